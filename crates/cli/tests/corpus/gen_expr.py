# Generates crates/cli/tests/corpus/expr.toml (big expressions are produced, not typed).
BASE = '''[problem]
dim = 2
mesh = {{ kind = "rectangle", x = [0.0, 1.0], y = [0.0, 1.0], nx = {n}, ny = {n}, cell = "triangle" }}
{extra}
'''
cases = []
def case(name, files, stderr, exit=1, args=None, stdout=None, timeout=None, env=None, sets=()):
    a = args or ["solve", "--config", "{dir}/c.toml"]
    for s in sets:
        a = a + ["--set", s]
    cases.append(dict(name=name, args=a, exit=exit, stderr=stderr, stdout=stdout or [], timeout=timeout, env=env, files=files))

def cfg(extra, n=4):
    return {"c.toml": BASE.format(n=n, extra=extra)}

def linear_factors(n, start=1):
    return "*".join(f"(1+{k*0.001:.6g}*x)" for k in range(start, start + n))

# --- syntax errors, one per expression key, each naming the key
case("expr-source-unclosed-paren", cfg('source = "sin(pi*x"'), ["problem.source", "expected `)`"])
case("expr-exact-unclosed-paren", cfg('exact = "sin(pi*x)*sin(pi*y"'), ["problem.exact", "expected `)`"])
case("expr-diffusion-missing-operand", cfg('diffusion = "1 + "'), ["problem.diffusion", "end of input"])
case("expr-reaction-missing-operator", cfg('reaction = "2 x"'), ["problem.reaction", "missing an operator"])
case("expr-boundary-value-syntax", cfg('boundary = [{ where = "all", kind = "dirichlet", value = "x +* y" }]'), ["problem.boundary", "value"])
case("expr-robin-alpha-syntax", cfg('boundary = [{ where = "all", kind = "robin", value = "0", alpha = "1 +" }]'), ["problem.boundary", "alpha"])
case("expr-source-empty", cfg('source = ""'), ["problem.source", "empty expression"])
case("expr-source-stray-close-paren", cfg('source = "x)"'), ["problem.source", "unbalanced"])
case("expr-source-bad-character", cfg('source = "x $ y"'), ["problem.source", "unexpected character"])
case("expr-source-single-equals", cfg('source = "if(x = 1, 1, 0)"'), ["problem.source", "=="])
case("expr-source-chained-comparison", cfg('source = "0 < x < 1"'), ["problem.source", "chained"])
case("expr-source-malformed-exponent", cfg('source = "1e+"'), ["problem.source", "malformed number"])
case("expr-source-set-override-syntax", cfg('source = "1"'), ["problem.source", "--set"], sets=["problem.source=sin(x"])
# --- unknown names, arity
case("expr-source-unknown-function", cfg('source = "sinus(x)"'), ["problem.source", "unknown function `sinus`"])
case("expr-exact-unknown-variable", cfg('exact = "w*x"'), ["problem.exact", "unknown identifier `w`"])
case("expr-source-unknown-parameter", cfg('source = "a*x"\nparams = { b = 2.0 }'), ["problem.source", "unknown identifier `a`", "parameters b"])
case("expr-source-function-without-call", cfg('source = "sin*x"'), ["problem.source", "is a function"])
case("expr-source-variable-called", cfg('source = "x(2)"'), ["problem.source", "not a function"])
case("expr-source-wrong-arity", cfg('source = "pow(x)"'), ["problem.source", "takes 2 arguments"])
case("expr-source-if-two-arguments", cfg('source = "if(x > 0, 1)"'), ["problem.source", "3 arguments"])
case("expr-params-shadow-builtin", cfg('source = "x"\nparams = { pi = 3.0 }'), ["problem.params.pi", "shadow"])
# --- non-finite constants and overflow
case("expr-source-overflow-constant", cfg('source = "1e308*10"'), ["problem.source", "inf"])
case("expr-exact-number-out-of-range", cfg('exact = "1e999*x"'), ["problem.exact", "out of range"])
case("expr-source-division-by-zero-constant", cfg('source = "1/0"'), ["problem.source", "inf"])
case("expr-diffusion-zero-over-zero", cfg('diffusion = "0/0 + x"'), ["problem.diffusion", "NaN"])
case("expr-reaction-asin-out-of-domain", cfg('reaction = "asin(2)*x"'), ["problem.reaction", "NaN"])
case("expr-params-overflow-after-folding", cfg('source = "a*a*x"\nparams = { a = 1e200 }'), ["problem.source", "inf"])
# --- division by zero / domain errors at points
case("expr-exact-pole-at-nodes", cfg('exact = "1/x"'), ["exact", "not finite"])
case("expr-exact-sqrt-negative-at-points", cfg('exact = "sqrt(x - 0.5)"'), ["exact", "not finite"])
case("expr-exact-log-zero-at-nodes", cfg('exact = "log(x)"'), ["exact", "not finite"])
case("expr-boundary-value-pole", cfg('boundary = [{ where = "all", kind = "dirichlet", value = "1/x" }]'), ["problem.boundary[0].value", "evaluates to inf"])
case("expr-source-pole-at-quadrature", cfg('source = "1/(x - x)"'), ["problem.source", "evaluates to inf"])
case("expr-diffusion-nan-at-points", cfg('diffusion = "sqrt(x - 0.5)"'), ["problem.diffusion", "NaN"])
# --- nesting and size
deep = "(" * 150 + "x" + ")" * 150
case("expr-source-deeply-nested-parens", cfg(f'source = "{deep}"'), ["problem.source", "nested too deeply"])
deep_calls = "sin(" * 120 + "x" + ")" * 120
case("expr-exact-deeply-nested-calls", cfg(f'exact = "{deep_calls}"'), ["problem.exact", "nested too deeply"])
long_chain = "+".join(["x"] * 500)
case("expr-source-long-flat-chain-too-deep", cfg(f'source = "{long_chain}"'), ["problem.source", "expression too deep", "more than 400 terms"])
# 120 groups of 150 products: ~72 000 operations at depth ~300 (within the depth limit).
k = iter(range(1, 10**7))
groups = ["(" + "+".join("x*y" for _ in range(150)) + ")" for _ in range(120)]
huge = "+".join(groups)
case("expr-source-over-size-limit", cfg(f'source = "{huge}"'), ["problem.source", "too large", "50000"])
# 23 products of 350 distinct factors: the expression is within the limit, its gradient is not.
prods = ["(" + linear_factors(350, start=1 + 350 * i) + ")" for i in range(23)]
grad_huge = "+".join(prods)
case("expr-exact-gradient-over-size-limit", cfg(f'exact = "{grad_huge}"'), ["problem.exact", "too large", "derivatives"])
# A source of the same size needs no gradient: accepted (sines, which stay bounded).
sine_sum = "+".join("(" + "*".join(f"sin({350 * i + j}*x)" for j in range(1, 351)) + ")" for i in range(23))
case("expr-source-large-but-no-gradient-needed", cfg(f'source = "{sine_sum}"'), [], exit=0, stdout=["femscale solve: P1 element"], timeout=60)
case("expr-exact-large-sines-gradient-over-size-limit", cfg(f'exact = "{sine_sum}"'), ["problem.exact", "too large", "50000"])
# --- the 395-factor exact solution from the issue
p395 = linear_factors(395)
case("expr-exact-395-factors-tiny-timeout", cfg(f'exact = "{p395}"\nsource = "1"', n=64), ["timed out", "solver.timeout_seconds"], sets=["solver.timeout_seconds=0.001"])
case("expr-exact-395-factors-fast-now", cfg(f'exact = "{p395}"\nsource = "1"', n=16), [], exit=0, stdout=["H1 seminorm"], timeout=60, sets=["solver.timeout_seconds=50"])
sines = "*".join(f"sin({i}*x)" for i in range(1, 396))
case("expr-exact-395-sines-jit-tiny-timeout", cfg(f'exact = "{sines}"\nsource = "1"', n=64), ["timed out", "solver.timeout_seconds"], sets=["solver.timeout_seconds=0.001", "scaling.enable_jit=true"])
case("expr-timeout-covers-meshing-and-assembly", cfg('source = "2*pi^2*sin(pi*x)*sin(pi*y)"', n=256), ["timed out", "phase", "solver.timeout_seconds"], sets=["solver.timeout_seconds=0.001"])
# --- not differentiable exact solutions: derivatives are one-sided, errors are still finite
case("expr-exact-not-differentiable-kink", cfg('exact = "abs(x - 0.5) + floor(3*y) + sign(x - y)"\nsource = "1"'), [], exit=0, stdout=["error"])
case("expr-exact-infinite-slope-at-boundary", cfg('exact = "sqrt(x)"\nsource = "1"'), [], exit=0, stdout=["error"])
case("expr-exact-jit-syntax-error", cfg('exact = "x^"'), ["problem.exact", "end of input"], sets=["scaling.enable_jit=true"])

def q(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'

out = ["# Bad-input corpus: expressions (helper h5). Generated by hand-written rules; the large",
       "# expressions (size limit, 395 factors) are spelled out so that the cases are data.",
       "# Exit codes: 1 = the command failed (config or run), 0 = accepted.", ""]
for c in cases:
    out.append("[[case]]")
    out.append(f"name = {q(c['name'])}")
    out.append("args = [" + ", ".join(q(a) for a in c["args"]) + "]")
    out.append(f"exit = {c['exit']}")
    out.append("stderr = [" + ", ".join(q(s) for s in c["stderr"]) + "]")
    if c["stdout"]:
        out.append("stdout = [" + ", ".join(q(s) for s in c["stdout"]) + "]")
    if c["timeout"]:
        out.append(f"timeout_seconds = {c['timeout']}")
    if c["env"]:
        out.append("env = { " + ", ".join(f"{k} = {q(v)}" for k, v in c["env"].items()) + " }")
    out.append("[case.files]")
    for fname, text in c["files"].items():
        out.append(f'"{fname}" = \'\'\'\n{text}\'\'\'')
    out.append("")
open(__import__("os").path.join(__import__("os").path.dirname(__file__), "expr.toml"), "w").write("\n".join(out))
print(len(cases), "cases")
