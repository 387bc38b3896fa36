//! Errors of the scaling crate.

/// What can go wrong when configuring or starting scaling machinery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScalingError {
    /// A configuration value is out of range or inconsistent.
    #[error("invalid `{field}`: {reason}")]
    InvalidConfig {
        /// The field, e.g. `max_workers`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An OS thread could not be started.
    #[error("cannot start thread `{name}`: {source}")]
    Spawn {
        /// The thread's name.
        name: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A rayon pool for the jobs of a worker could not be built.
    #[error("cannot build a pool of {threads} threads: {message}")]
    ThreadPool {
        /// Threads asked for.
        threads: usize,
        /// rayon's message.
        message: String,
    },
}

impl ScalingError {
    /// Shorthand for [`ScalingError::InvalidConfig`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidConfig {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Result alias with [`ScalingError`].
pub type Result<T, E = ScalingError> = std::result::Result<T, E>;
