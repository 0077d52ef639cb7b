"""Registry of the example models in examples/*.mlir.

The input generator (examples/generate_inputs.py) and the result checker
(test/lib/check_results.py) both need to know, for each example, the entry
function, its arguments in order with their shapes, and the moe.layer
attributes.  They are written here once, by hand from the .mlir files, so that
the two scripts cannot disagree.  Attributes that a .mlir file leaves out take
the moe.layer defaults (noise_epsilon 1e-2, relu, topk_softmax, no
renormalization, loss weights 0.01).

Fast tests want the same models at a smaller size: `model_config` returns a
copy with some fields overridden (d, h, n, k, ...), validated the way the
dialect's verifier would, and remembers which fields differ from the .mlir
file so a caller can say that the runner needs a matching variant.
"""

import dataclasses
import math
from pathlib import Path
from typing import Optional

EXAMPLES_DIR = Path(__file__).resolve().parent

# Token count used when a model's T is dynamic and the caller does not choose
# one: small enough that the float64 reference of a full-size model runs in
# seconds.
DEFAULT_TOKENS = 8

ACTIVATIONS = ("relu", "gelu", "silu")
NORMALIZATIONS = ("topk_softmax", "softmax_topk", "sigmoid_topk")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """One moe.layer entry function: its signature and its attributes.

    `arguments` lists the entry arguments in order as (argument name, role),
    where the role is the moe.layer operand the argument feeds (`input`,
    `w_gate`, `w_noise`, `noise`, `secondary_w_gate`, `secondary_w_noise`,
    `secondary_noise`, `w1`, `b1`, `w3`, `w2`, `b2`).  Argument names are the
    .mlir's own (the hierarchical example calls its secondary gate `w_gate2`).

    `tokens` is the static token count, or None when T is dynamic.
    `num_groups`/`group_k` are None for a flat layer, `capacity_factor` is None
    for dropless dispatch.  `differs_from_file` names the fields a caller
    overrode to values other than the .mlir file's.
    """

    name: str
    mlir_file: Path
    entry: str
    arguments: tuple
    tokens: Optional[int]
    d: int
    h: int
    n: int
    k: int
    num_groups: Optional[int] = None
    group_k: Optional[int] = None
    noise_epsilon: float = 1e-2
    capacity_factor: Optional[float] = None
    activation: str = "relu"
    normalization: str = "topk_softmax"
    renormalize: bool = False
    importance_weight: float = 0.01
    load_weight: float = 0.01
    # The entry also returns the routed tokens per expert ([n], the exact
    # moe.load count of the gating logits): what a user monitors.
    reports_tokens_per_expert: bool = False
    differs_from_file: tuple = ()

    @property
    def roles(self):
        """The set of moe.layer operands this entry function passes."""
        return {role for _, role in self.arguments}

    @property
    def hierarchical(self):
        return self.num_groups is not None

    def layer_attributes(self):
        """The entry's arguments and the flat layer's attributes, as JSON
        values: what bench/torch_moe.py's CONFIG describes."""
        return {"arguments": list(self.arguments), "n": self.n, "k": self.k,
                "noise_epsilon": self.noise_epsilon,
                "activation": self.activation,
                "normalization": self.normalization,
                "renormalize": self.renormalize,
                "importance_weight": self.importance_weight,
                "load_weight": self.load_weight}

    @property
    def group_size(self):
        """b: experts per group (n itself for a flat layer)."""
        return self.n // self.num_groups if self.hierarchical else self.n

    @property
    def experts_per_token(self):
        """Width of the flat routing: k, or group_k * k when hierarchical."""
        return self.group_k * self.k if self.hierarchical else self.k

    @property
    def expert_gate_role(self):
        """The operand whose columns score individual experts.

        For a flat layer that is the gate; for a hierarchical one the primary
        gate scores groups and the secondary gate scores experts.
        """
        return "secondary_w_gate" if self.hierarchical else "w_gate"

    def token_count(self, requested=None):
        """The T to use: the requested one, else the static one, else the default."""
        if requested is not None:
            return requested
        return self.tokens if self.tokens is not None else DEFAULT_TOKENS

    def operand_shape(self, role, tokens):
        """Shape of one moe.layer operand for T = tokens."""
        gate_width = self.num_groups if self.hierarchical else self.n
        shapes = {
            "input": (tokens, self.d),
            "w_gate": (self.d, gate_width),
            "w_noise": (self.d, gate_width),
            "noise": (tokens, gate_width),
            "secondary_w_gate": (self.d, self.n),
            "secondary_w_noise": (self.d, self.n),
            "secondary_noise": (tokens, self.n),
            "w1": (self.n, self.d, self.h),
            "b1": (self.n, self.h),
            "w3": (self.n, self.d, self.h),
            "w2": (self.n, self.h, self.d),
            "b2": (self.n, self.d),
        }
        return shapes[role]

    def argument_shapes(self, tokens):
        """[(argument name, role, shape)] in entry-argument order."""
        return [(name, role, self.operand_shape(role, tokens))
                for name, role in self.arguments]

    def result_shapes(self, tokens):
        """Shapes of the entry results: output [T, d], two 0-d losses, and
        the tokens per expert [n] where the entry reports them."""
        shapes = [("output", (tokens, self.d)), ("importance_loss", ()),
                  ("load_loss", ())]
        if self.reports_tokens_per_expert:
            shapes.append(("tokens_per_expert", (self.n,)))
        return shapes


MODELS = {
    "paper-lm": ModelConfig(
        name="paper-lm",
        mlir_file=EXAMPLES_DIR / "paper-lm-layer.mlir",
        entry="paper_lm_layer",
        arguments=(("x", "input"), ("w_gate", "w_gate"),
                   ("w_noise", "w_noise"), ("noise", "noise"),
                   ("w1", "w1"), ("b1", "b1"), ("w2", "w2"), ("b2", "b2")),
        tokens=None, d=512, h=1024, n=64, k=4,
        noise_epsilon=1e-2, activation="relu",
        importance_weight=0.1, load_weight=0.1,
        reports_tokens_per_expert=True),
    "hierarchical": ModelConfig(
        name="hierarchical",
        mlir_file=EXAMPLES_DIR / "hierarchical-layer.mlir",
        entry="hierarchical_layer",
        arguments=(("x", "input"), ("w_gate", "w_gate"),
                   ("w_noise", "w_noise"), ("noise", "noise"),
                   ("w_gate2", "secondary_w_gate"),
                   ("w_noise2", "secondary_w_noise"),
                   ("noise2", "secondary_noise"),
                   ("w1", "w1"), ("w2", "w2")),
        tokens=None, d=512, h=1024, n=64, k=2, num_groups=8, group_k=2),
    "mixtral": ModelConfig(
        name="mixtral",
        mlir_file=EXAMPLES_DIR / "mixtral-layer.mlir",
        entry="mixtral_layer",
        arguments=(("x", "input"), ("w_gate", "w_gate"), ("w1", "w1"),
                   ("w3", "w3"), ("w2", "w2")),
        tokens=None, d=1024, h=3584, n=8, k=2, activation="silu",
        normalization="softmax_topk", renormalize=True),
    "capacity": ModelConfig(
        name="capacity",
        mlir_file=EXAMPLES_DIR / "capacity-layer.mlir",
        entry="capacity_layer",
        arguments=(("x", "input"), ("w_gate", "w_gate"), ("w1", "w1"),
                   ("w2", "w2")),
        tokens=256, d=512, h=1024, n=16, k=2, capacity_factor=1.25,
        activation="gelu", normalization="softmax_topk"),
}

# Fields a caller may override; the rest (file, entry, argument list) define
# which model it is.
OVERRIDABLE = ("tokens", "d", "h", "n", "k", "num_groups", "group_k",
               "noise_epsilon", "capacity_factor", "activation",
               "normalization", "renormalize", "importance_weight",
               "load_weight")


def _validate(config):
    """Reject configurations the dialect's verifier would reject."""
    def require(condition, message):
        if not condition:
            raise ValueError(f"model '{config.name}': {message}")

    for field in ("d", "h", "n", "k"):
        require(getattr(config, field) >= 1, f"{field} must be positive")
    require(config.tokens is None or config.tokens >= 1,
            "tokens must be positive")
    has_secondary = "secondary_w_gate" in config.roles
    require(config.hierarchical == has_secondary,
            "num_groups is set exactly when the entry has a secondary gate")
    if config.hierarchical:
        require(config.num_groups >= 1 and config.n % config.num_groups == 0,
                f"n ({config.n}) must be a multiple of num_groups "
                f"({config.num_groups})")
        require(1 <= config.group_k <= config.num_groups,
                f"group_k ({config.group_k}) must be in 1..num_groups "
                f"({config.num_groups})")
    require(config.k <= config.group_size,
            f"k ({config.k}) must be at most the experts it chooses among "
            f"({config.group_size})")
    require(math.isfinite(config.noise_epsilon) and config.noise_epsilon >= 0,
            "noise_epsilon must be finite and non-negative")
    require(config.capacity_factor is None or
            (math.isfinite(config.capacity_factor) and
             config.capacity_factor > 0),
            "capacity_factor must be positive")
    require(config.activation in ACTIVATIONS,
            f"activation must be one of {', '.join(ACTIVATIONS)}")
    require(config.normalization in NORMALIZATIONS,
            f"normalization must be one of {', '.join(NORMALIZATIONS)}")


def model_config(name, **overrides):
    """The registered model `name`, with the given fields overridden.

    Raises KeyError for an unknown model, ValueError for a field that cannot
    be overridden or a configuration the verifier would reject.
    """
    if name not in MODELS:
        raise KeyError(f"unknown model '{name}' (known: {', '.join(MODELS)})")
    base = MODELS[name]
    unknown = sorted(set(overrides) - set(OVERRIDABLE))
    if unknown:
        raise ValueError(f"cannot override {', '.join(unknown)} "
                         f"(overridable: {', '.join(OVERRIDABLE)})")
    differs = tuple(field for field in OVERRIDABLE if field in overrides and
                    overrides[field] != getattr(base, field))
    config = dataclasses.replace(base, **overrides, differs_from_file=differs)
    if config.hierarchical or config.capacity_factor is not None:
        # The routed count (moe.load of the gating logits) is the count of
        # processed tokens only for a flat dropless layer.
        config = dataclasses.replace(config, reports_tokens_per_expert=False)
    _validate(config)
    return config


def add_override_arguments(parser):
    """Add one --option per overridable attribute (not tokens) to an argparse parser.

    Shared by the generator and the checker so both accept the same
    overrides and build the same configuration from them.
    """
    group = parser.add_argument_group(
        "model overrides (scaled-down or edge-case variants)")
    for flag, kind in (("d", int), ("h", int), ("n", int), ("k", int),
                       ("num-groups", int), ("group-k", int),
                       ("noise-epsilon", float), ("capacity-factor", float),
                       ("importance-weight", float), ("load-weight", float)):
        group.add_argument(f"--{flag}", type=kind)
    group.add_argument("--activation", choices=ACTIVATIONS)
    group.add_argument("--normalization", choices=NORMALIZATIONS)
    group.add_argument("--renormalize", choices=("true", "false"))


def config_from_args(args):
    """The ModelConfig named by args.model with the parsed overrides applied.

    `args.tokens` (the --tokens option) only becomes an override for a model
    whose T is static; for a dynamic-T model it just picks the T of a run.
    """
    overrides = {field: getattr(args, field) for field in OVERRIDABLE
                 if getattr(args, field, None) is not None}
    if "renormalize" in overrides:
        overrides["renormalize"] = overrides["renormalize"] == "true"
    if MODELS[args.model].tokens is None:
        overrides.pop("tokens", None)
    return model_config(args.model, **overrides)


def render_mlir(config, dtype="f32"):
    """The entry function of `config` as MLIR: one moe.layer, f32/f16/bf16/f64.

    Scaled-down and edge-case variants have no .mlir file of their own; this
    writes the one that matches them, in the form of the examples.
    """
    tokens = "?" if config.tokens is None else str(config.tokens)

    def tensor(shape):
        dims = [tokens if size == "T" else str(size) for size in shape]
        return "tensor<" + "x".join(dims + [dtype]) + ">"

    symbolic = config.operand_shape  # shapes with T spelled as "T"
    arguments = [(name, tensor(symbolic(role, "T")))
                 for name, role in config.arguments]
    by_role = {role: name for name, role in config.arguments}
    clauses = [f"%{by_role['input']} gate(%{by_role['w_gate']})"]
    for role, pair in (("noise", ("w_noise", "noise")),
                       ("secondary_w_gate", None),
                       ("secondary_noise",
                        ("secondary_w_noise", "secondary_noise"))):
        if role not in by_role:
            continue
        if pair is None:
            clauses.append(f"secondary_gate(%{by_role[role]})")
        else:
            keyword = "noise" if role == "noise" else "secondary_noise"
            clauses.append(f"{keyword}(%{by_role[pair[0]]}, "
                           f"%{by_role[pair[1]]})")
    for role in ("w1", "b1", "w3", "w2", "b2"):
        if role in by_role:
            clauses.append(f"{role}(%{by_role[role]})")

    attributes = [f"num_experts = {config.n}", f"k = {config.k}",
                  f"noise_epsilon = {config.noise_epsilon!r} : f64",
                  f"activation = #moe.activation<{config.activation}>",
                  f"normalization = #moe.normalization<{config.normalization}>",
                  f"renormalize = {'true' if config.renormalize else 'false'}",
                  f"importance_weight = {config.importance_weight!r} : f64",
                  f"load_weight = {config.load_weight!r} : f64"]
    if config.hierarchical:
        attributes += [f"num_groups = {config.num_groups}",
                       f"group_k = {config.group_k}"]
    if config.capacity_factor is not None:
        attributes.append(
            f"capacity_factor = {config.capacity_factor!r} : f64")

    output = tensor(("T", config.d))
    scalar = f"tensor<{dtype}>"
    layer_types = [output, scalar, scalar]
    result_names = ["%y", "%importance_loss", "%load_loss"]
    argument_list = ", ".join(f"%{name}: {type_}" for name, type_ in arguments)
    operand_types = ", ".join(type_ for _, type_ in arguments)
    body = (f"  %y, %importance_loss, %load_loss = moe.layer "
            f"{' '.join(clauses)}\n"
            f"      {{{', '.join(attributes)}}}\n"
            f"      : ({operand_types}) -> ({', '.join(layer_types)})\n")
    result_types = list(layer_types)
    if config.reports_tokens_per_expert:
        logits = tensor(("T", config.n))
        gate_types = f"{tensor(symbolic('input', 'T'))}, " \
                     f"{tensor(symbolic('w_gate', 'T'))}"
        if "noise" in by_role:
            body += (f"  %logits, %clean, %stddev = moe.noisy_gate "
                     f"%{by_role['input']}, %{by_role['w_gate']}, "
                     f"%{by_role['w_noise']}, %{by_role['noise']} "
                     f"{{noise_epsilon = {config.noise_epsilon!r} : f64}}\n"
                     f"      : ({gate_types}, "
                     f"{tensor(symbolic('w_noise', 'T'))}, "
                     f"{tensor(symbolic('noise', 'T'))}) -> "
                     f"({logits}, {logits}, {logits})\n")
        else:
            body += (f"  %logits = moe.gate %{by_role['input']}, "
                     f"%{by_role['w_gate']} : ({gate_types}) -> {logits}\n")
        counts = tensor((config.n,))
        body += (f"  %tokens_per_expert = moe.load %logits, k = {config.k} "
                 f": ({logits}) -> {counts}\n")
        result_types.append(counts)
        result_names.append("%tokens_per_expert")
    results = f"({', '.join(result_types)})"
    return (f"func.func @{config.entry}({argument_list}) -> {results} {{\n"
            f"{body}"
            f"  return {', '.join(result_names)} : "
            f"{', '.join(result_types)}\n"
            f"}}\n")
