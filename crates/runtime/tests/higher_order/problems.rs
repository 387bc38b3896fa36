//! The manufactured problems: `[problem]` bodies after `mesh` and `order`.

/// 1D: `u = e^x sin 2x`, `k = 1 + x²`, `c = 2`; `u(0) = 0`, Robin `k u' + 3u` at x = 1.
pub const PROBLEM_1D: &str = r#"
    diffusion = "1 + x^2"
    reaction = 2.0
    source = "(-2*x*(sin(2*x) + 2*cos(2*x)) + (x^2 + 1)*(3*sin(2*x) - 4*cos(2*x)) + 2*sin(2*x))*exp(x)"
    exact = "exp(x)*sin(2*x)"
    [[problem.boundary]]
    where = "left"
    kind = "dirichlet"
    value = 0.0
    [[problem.boundary]]
    where = "right"
    kind = "robin"
    alpha = 3.0
    value = "exp(1)*(4*cos(2) + 5*sin(2))"
"#;

/// 2D: `u = e^(x/2) sin(2y + 1) + xy`, `k = 1 + x²/2 + y/4`, `c = 2`; Dirichlet on the left
/// and bottom, Neumann on the right, Robin (`alpha = 2`) on the top.
pub const PROBLEM_2D: &str = r#"
    diffusion = "1 + x^2/2 + y/4"
    reaction = 2.0
    source = "2*x*y - x*(2*y + exp(x/2)*sin(2*y + 1))/2 - x/4 + 15*(2*x^2 + y + 4)*exp(x/2)*sin(2*y + 1)/16 + 2*exp(x/2)*sin(2*y + 1) - exp(x/2)*cos(2*y + 1)/2"
    exact = "exp(x/2)*sin(2*y + 1) + x*y"
    [[problem.boundary]]
    where = "left"
    kind = "dirichlet"
    value = "exp(x/2)*sin(2*y + 1) + x*y"
    [[problem.boundary]]
    where = "bottom"
    kind = "dirichlet"
    value = "exp(x/2)*sin(2*y + 1) + x*y"
    [[problem.boundary]]
    where = "right"
    kind = "neumann"
    value = "(2*y + exp(x/2)*sin(2*y + 1))*(2*x^2 + y + 4)/8"
    [[problem.boundary]]
    where = "top"
    kind = "robin"
    alpha = 2.0
    value = "2*x*y + (x + 2*exp(x/2)*cos(2*y + 1))*(2*x^2 + y + 4)/4 + 2*exp(x/2)*sin(2*y + 1)"
"#;

/// 3D: `u = e^(x/2) sin(2y + 1) cos z + xyz`, `k = 1 + x²/2 + yz/4`, `c = 2`; the faces by
/// name, so that a Gmsh cube (xmin, ...) can substitute its own ([`named`]).
pub const PROBLEM_3D: &str = r#"
    diffusion = "1 + x^2/2 + y*z/4"
    reaction = 2.0
    source = "2*x*y*z - x*(2*y*z + exp(x/2)*sin(2*y + 1)*cos(z))/2 - y*(x*y - exp(x/2)*sin(z)*sin(2*y + 1))/4 - z*(x*z + 2*exp(x/2)*cos(z)*cos(2*y + 1))/4 + 19*(2*x^2 + y*z + 4)*exp(x/2)*sin(2*y + 1)*cos(z)/16 + 2*exp(x/2)*sin(2*y + 1)*cos(z)"
    exact = "exp(x/2)*sin(2*y + 1)*cos(z) + x*y*z"
    [[problem.boundary]]
    where = "LEFT"
    kind = "dirichlet"
    value = "exp(x/2)*sin(2*y + 1)*cos(z) + x*y*z"
    [[problem.boundary]]
    where = "FRONT"
    kind = "dirichlet"
    value = "exp(x/2)*sin(2*y + 1)*cos(z) + x*y*z"
    [[problem.boundary]]
    where = "BOTTOM"
    kind = "dirichlet"
    value = "exp(x/2)*sin(2*y + 1)*cos(z) + x*y*z"
    [[problem.boundary]]
    where = "RIGHT"
    kind = "neumann"
    value = "(2*y*z + exp(x/2)*sin(2*y + 1)*cos(z))*(2*x^2 + y*z + 4)/8"
    [[problem.boundary]]
    where = "BACK"
    kind = "neumann"
    value = "(x*z + 2*exp(x/2)*cos(z)*cos(2*y + 1))*(x^2/2 + y*z/4 + 1)"
    [[problem.boundary]]
    where = "TOP"
    kind = "robin"
    alpha = 2.0
    value = "2*x*y*z + (x*y - exp(x/2)*sin(z)*sin(2*y + 1))*(2*x^2 + y*z + 4)/4 + 2*exp(x/2)*sin(2*y + 1)*cos(z)"
"#;

/// Patch test in 2D: `u = 1 + x - 2y + x² + xy - y²/2` (quadratic), `k = 1 + x/2 + y/4`,
/// `c = 1`, the conditions of [`PROBLEM_2D`].
pub const PATCH_2D: &str = r#"
    diffusion = "1 + x/2 + y/4"
    reaction = 1.0
    source = "x^2 + x*y - 3*x/4 - y^2/2 - 5*y/2"
    exact = "1 + x - 2*y + x^2 + x*y - y^2/2"
    [[problem.boundary]]
    where = "left"
    kind = "dirichlet"
    value = "1 + x - 2*y + x^2 + x*y - y^2/2"
    [[problem.boundary]]
    where = "bottom"
    kind = "dirichlet"
    value = "1 + x - 2*y + x^2 + x*y - y^2/2"
    [[problem.boundary]]
    where = "right"
    kind = "neumann"
    value = "x^2 + x*y + 5*x/2 + y^2/4 + 5*y/4 + 1"
    [[problem.boundary]]
    where = "top"
    kind = "robin"
    alpha = 2.0
    value = "5*x^2/2 + 7*x*y/4 + 2*x - 5*y^2/4 - 11*y/2"
"#;

/// Patch test in 3D: `u = 1 + x - 2y + z/2 + x² + xy + xz - y²/2 + yz - z²/3`,
/// `k = 1 + x/2 + y/4 + z/8`, `c = 1`, the conditions of [`PROBLEM_3D`]; faces named as there.
pub const PATCH_3D: &str = r#"
    diffusion = "1 + x/2 + y/4 + z/8"
    reaction = 1.0
    source = "x^2 + x*y + x*z - 13*x/24 - y^2/2 + y*z - 59*y/24 - z^2/3 - 5*z/24 + 29/48"
    exact = "1 + x - 2*y + z/2 + x^2 + x*y - y^2/2 + y*z - z^2/3 + x*z"
    [[problem.boundary]]
    where = "LEFT"
    kind = "dirichlet"
    value = "1 + x - 2*y + z/2 + x^2 + x*y - y^2/2 + y*z - z^2/3 + x*z"
    [[problem.boundary]]
    where = "FRONT"
    kind = "dirichlet"
    value = "1 + x - 2*y + z/2 + x^2 + x*y - y^2/2 + y*z - z^2/3 + x*z"
    [[problem.boundary]]
    where = "BOTTOM"
    kind = "dirichlet"
    value = "1 + x - 2*y + z/2 + x^2 + x*y - y^2/2 + y*z - z^2/3 + x*z"
    [[problem.boundary]]
    where = "RIGHT"
    kind = "neumann"
    value = "x^2 + x*y + 3*x*z/4 + 5*x/2 + y^2/4 + 3*y*z/8 + 5*y/4 + z^2/8 + 9*z/8 + 1"
    [[problem.boundary]]
    where = "BACK"
    kind = "neumann"
    value = "x^2/2 - x*y/4 + 5*x*z/8 - y^2/4 + y*z/8 - 3*y/2 + z^2/8 + 3*z/4 - 2"
    [[problem.boundary]]
    where = "TOP"
    kind = "robin"
    alpha = 2.0
    value = "5*x^2/2 + 11*x*y/4 + 43*x*z/24 + 13*x/4 - 3*y^2/4 + 47*y*z/24 - 23*y/8 - 3*z^2/4 + 19*z/48 + 5/2"
"#;
