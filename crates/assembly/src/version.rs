//! The version of the discrete numbers this crate computes.

/// Version of the discretisation: the elements (basis functions and their gradients), the
/// quadrature rules, how coefficients, sources and boundary data are evaluated, and the error
/// norms.
///
/// Cached operators and solutions are keyed by it (next to the femscale version), so that an
/// entry computed by other numerics misses instead of standing in for today's result. **Bump
/// it** in any change to this crate (or to the mesh generators it integrates over) that changes
/// assembled matrices, load vectors or error norms beyond round-off without a femscale version
/// bump: a new quadrature rule or point order, a different evaluation point of a coefficient, a
/// changed element basis. Pure refactors and speed-ups with bit-identical results keep it.
///
/// 2: the kernel generic over elements (3D, P2/Q2) sums in a different order, and the error
/// norms integrate P1/Q1 with degree 4 on every cell (was 5 on intervals and quadrilaterals).
/// 3: `sin` and `cos` of expressions are femscale's own (`femscale_expr::trig`, one ulp from
/// the C library's for about 3 % of arguments), so sources, boundary data and error norms that
/// call them change in their last bits.
/// 4: the stiffness of order-2 simplices with a constant diffusion is the reference tensor
/// contracted with the cell's metric (`Tables::reference_stiffness`), the same rule's integral summed in
/// another order: entries change in their last bits, and couplings that vanish in exact
/// arithmetic come out exactly zero on structured grids (where the cell metrics are exact)
/// instead of as rounding noise. Order-2 rectangles are generated with their nodes numbered
/// along the order-2 lattice (`Mesh::rectangle_of_order`), so their unknowns come in another
/// order.
/// 5: the derivatives of expressions (the exact solution's gradient in the H1 error) follow
/// the argument `min` and `max` take when the other is NaN, and `0^b` has the derivative 0;
/// and problems that solved before are refused (a per-subdomain reaction that is zero where
/// no condition fixes the constant, a coordinate the mesh lacks): entries computed before
/// must not be served for them.
pub const DISCRETISATION_VERSION: u32 = 5;
