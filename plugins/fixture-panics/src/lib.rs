//! Test fixture: a plugin whose solver `panicky` and preconditioner `panicky-pc` misbehave on
//! purpose, so that the host's tests can check that a panic or an error in a plugin becomes a
//! typed error and the host goes on.
//!
//! The options JSON names the stage, `{"stage": "solve"}`: `create`, `prepare`, `solve` or
//! `apply` panic there; `"error"` makes the solve return an error; `"nan"` and `"forty-two"`
//! make it return `x = NaN` or `x = 42` while claiming convergence with a zero residual (a
//! wrong answer the host must catch); `"negative-residual"` and `"too-many-iterations"` claim
//! success with a relative residual of -1 or `usize::MAX` iterations (figures the host must
//! refuse); anything else returns `x = b`, also claiming
//! convergence, and the preconditioner is the identity. Each set-up logs one line.

use femscale_plugin_api::sdk::{
    Csr, Monitor, Plugin, Preconditioner, PreconditionerBuilder, PreparedSolver, Solver,
};
use femscale_plugin_api::{LogLevel, PluginError, SolveOutcome, SolveParams, plugin_log};

/// Where to misbehave (the options text with quotes and spaces removed).
struct Stage(String);

impl Stage {
    /// `{"stage": "solve"}` gives `solve` (a fixture needs no JSON parser).
    fn parse(json: &str) -> Stage {
        let text: String = json.chars().filter(|c| !"\"{} \n".contains(*c)).collect();
        let value = text.split_once(':').map_or(text.as_str(), |(_, v)| v);
        Stage(value.to_string())
    }

    fn panic_at(&self, stage: &str) {
        if self.0 == stage {
            panic!("fixture panic in {stage}");
        }
    }
}

impl Solver for Stage {
    type Prepared = Stage;

    fn prepare(&self, a: Csr<'_>, _: &SolveParams) -> Result<Stage, PluginError> {
        plugin_log!(LogLevel::INFO, "panicky prepared for {} unknowns", a.nrows);
        self.panic_at("prepare");
        Ok(Stage(self.0.clone()))
    }
}

impl PreparedSolver for Stage {
    fn solve(
        &mut self,
        _: Csr<'_>,
        b: &[f64],
        x: &mut [f64],
        _: &SolveParams,
        _: &mut Monitor<'_>,
    ) -> Result<SolveOutcome, PluginError> {
        self.panic_at("solve");
        if self.0 == "error" {
            return Err(PluginError::other("the fixture fails on purpose"));
        }
        match self.0.as_str() {
            "nan" => x.fill(f64::NAN),
            "forty-two" => x.fill(42.0),
            _ => x.copy_from_slice(b),
        }
        // Impossible figures the host must refuse.
        let (iterations, final_relative_residual) = match self.0.as_str() {
            "negative-residual" => (1, -1.0),
            "too-many-iterations" => (usize::MAX, 0.0),
            _ => (1, 0.0),
        };
        Ok(SolveOutcome {
            iterations,
            converged: true,
            final_relative_residual,
            ..SolveOutcome::default()
        })
    }

    fn update_values(&mut self, _: Csr<'_>) -> Result<(), PluginError> {
        Ok(())
    }
}

impl PreconditionerBuilder for Stage {
    type Preconditioner = Stage;

    fn build(&self, _: Csr<'_>) -> Result<Stage, PluginError> {
        Ok(Stage(self.0.clone()))
    }
}

impl Preconditioner for Stage {
    fn apply(&self, r: &[f64], z: &mut [f64]) {
        self.panic_at("apply");
        z.copy_from_slice(r);
    }
}

fn make(json: &str) -> Result<Stage, PluginError> {
    let stage = Stage::parse(json);
    stage.panic_at("create");
    Ok(stage)
}

fn plugin() -> Plugin {
    Plugin::new(
        "fixture-panics",
        env!("CARGO_PKG_VERSION"),
        "panics on purpose",
    )
    .solver("panicky", "panics at the stage named by its options", make)
    .preconditioner(
        "panicky-pc",
        "panics at the stage named by its options",
        make,
    )
}

femscale_plugin_api::export_plugin!(plugin);
