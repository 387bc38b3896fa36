//! `femscale solve` and the distributed solvers (`distributed-cg`, `distributed-gmres`,
//! `distributed-bicgstab`): registered on the ranks of an MPI job when
//! `mpirun`/`srun` started this process as one of several (feature `mpi`), else on one
//! in-process rank, so the same configuration runs with and without a launcher.

use std::sync::Arc;

use femscale::distributed::linalg::SharedCommunicator;
use femscale::distributed::{ThreadRanks, launched_ranks};
use femscale::runtime::{Config, FemSolver};

/// The ranks this `femscale solve` runs on.
pub struct Ranks {
    comm: SharedCommunicator,
}

impl Ranks {
    /// The launched MPI job's ranks, or one in-process rank when no launcher started several.
    ///
    /// # Errors
    /// A multi-rank launch of a build without the `mpi` feature, or MPI failing to start.
    pub fn start() -> femscale::Result<Self> {
        let comm: SharedCommunicator = match launched_ranks() {
            Some(launched) if launched.size > 1 => mpi_world(&launched)?,
            _ => Arc::new(ThreadRanks::group(1).pop().expect("one rank")),
        };
        Ok(Self { comm })
    }

    /// `error` as this rank's; on several ranks it is printed with the rank and the whole job
    /// is ended (`MPI_Abort`): an error on one rank (a time limit on its own clock, a field
    /// not finite on its part of the mesh) must not leave the others waiting in a collective
    /// operation it will not join.
    pub fn fail(&self, error: anyhow::Error) -> anyhow::Error {
        if self.comm.size() > 1 {
            eprintln!(
                "error on rank {}: {}",
                self.comm.rank(),
                crate::error_chain(&error)
            );
            self.comm.abort_job(1);
        }
        error
    }

    /// Checks that every rank was given the same `text` (`femscale::ranks::agree_on`).
    ///
    /// # Errors
    /// On every rank when one differs.
    pub fn agree(&self, what: &str, text: &str) -> femscale::Result<()> {
        femscale::ranks::agree_on(self.comm.as_ref(), what, text)
    }

    /// Whether this process prints the result (rank 0).
    pub fn is_root(&self) -> bool {
        self.comm.rank() == 0
    }

    /// A solver for `config` on these ranks (`femscale::ranks::solver_on`: cores shared out,
    /// the distributed solvers registered, any other refused on several ranks).
    ///
    /// # Errors
    /// As `femscale::ranks::solver_on`.
    pub fn solver(&self, config: Config) -> femscale::Result<FemSolver> {
        femscale::ranks::solver_on(config, self.comm.clone())
    }
}

#[cfg(feature = "mpi")]
fn mpi_world(
    _launched: &femscale::distributed::LaunchedRanks,
) -> femscale::Result<SharedCommunicator> {
    Ok(Arc::new(femscale::distributed::MpiWorld::initialize()?))
}

#[cfg(not(feature = "mpi"))]
fn mpi_world(
    launched: &femscale::distributed::LaunchedRanks,
) -> femscale::Result<SharedCommunicator> {
    Err(femscale::Error::feature_disabled(
        "solver.kind",
        format!(
            "running as one of {} ranks ({} is set by the launcher)",
            launched.size, launched.variable
        ),
        "mpi",
    ))
}

impl Ranks {
    /// Writes the solution `u` as VTK and returns the file to open: `path` itself on one
    /// process; on several, a `.pvtu` file (`path` with that extension) written by rank 0 and
    /// one piece per rank beside it, `<stem>_<rank>.vtu`, holding the cells whose first node
    /// is among the rank's rows in the solve (every cell in exactly one piece) with the cell
    /// data `rank`.
    /// Collective: every rank learns whether every piece was written.
    ///
    /// # Errors
    /// The writers' (typed, naming the file); [`femscale::Error::Io`] on every rank when
    /// another rank's piece failed.
    pub fn write_vtu(
        &self,
        solution: &femscale::runtime::Solution,
        path: &std::path::Path,
    ) -> femscale::Result<std::path::PathBuf> {
        use femscale::distributed::linalg::RowPartition;
        use femscale::mesh::vtu::{write_pvtu, write_vtu, write_vtu_piece};
        let (mesh, u) = (&solution.mesh, solution.values.as_slice());
        let (rank, size) = (self.comm.rank(), self.comm.size());
        check_vtu_path(path)?;
        // One process writes one `.vtu` file, unless a `.pvtu` file (and its piece) is asked for.
        let parallel = (path.extension()).is_some_and(|e| e.eq_ignore_ascii_case("pvtu"));
        if size == 1 && !parallel {
            write_vtu(mesh, &[("u", u)], path)?;
            return Ok(path.to_path_buf());
        }
        let pvtu = path.with_extension("pvtu");
        let stem = pvtu
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("solution")
            .to_owned();
        let piece_name = |r: usize| format!("{stem}_{r}.vtu");
        // The rows the solve gave each rank (METIS parts differ in size), else balanced blocks.
        let n = mesh.num_nodes();
        let partition = match solution.metrics.linear_solve.ranks.as_ref() {
            Some(r) if r.rows.len() == size && r.rows.iter().sum::<usize>() == n => {
                RowPartition::from_counts(r.rows.iter().copied())?
            }
            _ => RowPartition::balanced(n, size)?,
        };
        let rows = partition.range(rank);
        let per_cell = mesh.view().nodes_per_cell();
        let cells: Vec<usize> = (mesh.cells().chunks_exact(per_cell).enumerate())
            .filter(|(_, nodes)| rows.contains(&nodes[0]))
            .map(|(c, _)| c)
            .collect();
        let ranks_field = vec![rank as f64; mesh.num_cells()];
        let written = match cells.is_empty() {
            true => Ok(false),
            false => write_vtu_piece(
                mesh,
                &cells,
                &[("u", u)],
                &[("rank", &ranks_field)],
                &pvtu.with_file_name(piece_name(rank)),
            )
            .map(|()| true),
        };
        // 1: a piece, 0: no cell, -1: failed; every rank learns every outcome.
        let mut outcomes = vec![0.0; size];
        outcomes[rank] = match &written {
            Ok(true) => 1.0,
            Ok(false) => 0.0,
            Err(_) => -1.0,
        };
        self.comm.all_reduce_sum(&mut outcomes)?;
        written?;
        if let Some(failed) = outcomes.iter().position(|&o| o < 0.0) {
            return Err(femscale::Error::Io {
                path: pvtu.with_file_name(piece_name(failed)),
                source: std::io::Error::other(format!("rank {failed} could not write its piece")),
            });
        }
        if rank == 0 {
            let pieces: Vec<String> = (0..size)
                .filter(|&r| outcomes[r] > 0.0)
                .map(piece_name)
                .collect();
            let markers = (
                !mesh.cell_markers().is_empty(),
                mesh.boundary_parts().iter().any(|p| p.id.is_some()),
            );
            write_pvtu(&pvtu, &pieces, &["u"], &["rank"], markers)?;
        }
        Ok(pvtu)
    }
}

/// Refuses a `--vtu` path that cannot be written, before the solve whose result it would
/// lose: one that names a directory (`out.vtu/`, or an existing directory: on several ranks
/// `with_extension` would quietly drop the slash and write `out.pvtu` beside it) or lies in a
/// directory that does not exist.
///
/// # Errors
/// [`femscale::Error::InvalidInput`] (field `--vtu`) saying which.
pub fn check_vtu_path(path: &std::path::Path) -> femscale::Result<()> {
    let refuse = |why: String| Err(femscale::Error::invalid("--vtu", why));
    let text = path.as_os_str().to_string_lossy();
    if text.ends_with(['/', std::path::MAIN_SEPARATOR]) || path.is_dir() {
        return refuse(format!(
            "`{}` names a directory; give a file name",
            path.display()
        ));
    }
    if std::fs::symlink_metadata(path).is_ok_and(|m| !m.is_file()) {
        // What the atomic writer would refuse after the solve.
        return refuse(format!(
            "`{}` exists and is not a regular file (a link, a device, a FIFO): the file is \
             written whole and renamed into place, which replaces only a regular file",
            path.display()
        ));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if !parent.is_dir() {
        return refuse(format!(
            "`{}` is in `{}`, which is not a directory (create it first)",
            path.display(),
            parent.display()
        ));
    }
    Ok(())
}
