//! Whether a launcher started this process as one of several ranks.

/// What a launcher's environment says about this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchedRanks {
    /// Ranks in the job.
    pub size: usize,
    /// The variable that said so (`OMPI_COMM_WORLD_SIZE`, `PMI_SIZE`, ...).
    pub variable: &'static str,
}

/// The variables launchers set for every rank: Open MPI's `mpirun`, PMIx (Open MPI 5, Slurm's
/// `srun --mpi=pmix`), and PMI (MPICH's Hydra, Intel MPI, `srun --mpi=pmi2`).
const SIZE_VARIABLES: [&str; 3] = ["OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"];

/// The number of ranks a launcher started, when this process is one of them: read from the
/// launcher's environment, without initialising MPI (so a build without the `mpi` feature can
/// refuse to run a job meant for several ranks instead of running it once per rank).
pub fn launched_ranks() -> Option<LaunchedRanks> {
    launched_ranks_in(|name| std::env::var(name).ok())
}

fn launched_ranks_in(var: impl Fn(&str) -> Option<String>) -> Option<LaunchedRanks> {
    SIZE_VARIABLES.iter().find_map(|&variable| {
        let size = var(variable)?.trim().parse::<usize>().ok()?;
        Some(LaunchedRanks { size, variable })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_launcher_variable_that_parses() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(launched_ranks_in(env(&[])), None);
        assert_eq!(
            launched_ranks_in(env(&[("PMI_SIZE", "4")])),
            Some(LaunchedRanks {
                size: 4,
                variable: "PMI_SIZE"
            })
        );
        assert_eq!(
            launched_ranks_in(env(&[("OMPI_COMM_WORLD_SIZE", "x"), ("PMIX_SIZE", " 2 ")])),
            Some(LaunchedRanks {
                size: 2,
                variable: "PMIX_SIZE"
            })
        );
    }
}
