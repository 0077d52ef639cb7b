"""Float64 NumPy reference of the moe dialect: one function per op, and the layer.

This is the contract the compiled code is checked against (SPEC §1, and the
op descriptions in docs/Dialects/MoEOps.md).  Every function takes arrays of
any float dtype, computes in float64 and returns float64 (index results are
int64).  The code follows the op definitions literally rather than cleverly,
so that a disagreement with the compiler points at the compiler or at the
definition, not at an optimization here.

Routing ties: top-k orders equal values by the lower index first, and every
function that needs "the top k" (topk, load, the layer) uses that one rule.
"""

import math

import numpy as np

_erf = np.frompyfunc(math.erf, 1, 1)
_erfc = np.frompyfunc(math.erfc, 1, 1)


def _f64(array):
    return np.asarray(array, dtype=np.float64)


def _softplus(z):
    return np.logaddexp(0.0, z)


def _sigmoid(z):
    # exp(-softplus(-z)) = 1 / (1 + exp(-z)) without overflow for large |z|.
    return np.exp(-np.logaddexp(0.0, -z))


def _softmax(z):
    shifted = np.exp(z - z.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _phi(z):
    """Standard normal CDF, 0.5*erfc(-z/sqrt(2)) (accurate in both tails)."""
    return 0.5 * _erfc(-z / math.sqrt(2.0)).astype(np.float64)


ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    # The exact erf form, not the tanh approximation.
    "gelu": lambda z: 0.5 * z * (1.0 + _erf(z / math.sqrt(2.0)).astype(np.float64)),
    "silu": lambda z: z * _sigmoid(z),
}


def gate(x, w_gate):
    """moe.gate: logits = x @ w_gate."""
    return _f64(x) @ _f64(w_gate)


def noisy_gate(x, w_gate, w_noise, noise, noise_epsilon):
    """moe.noisy_gate: returns (logits, clean, stddev).

    clean = x @ w_gate, stddev = softplus(x @ w_noise) + noise_epsilon,
    logits = clean + noise * stddev.
    """
    clean = gate(x, w_gate)
    stddev = _softplus(gate(x, w_noise)) + noise_epsilon
    return clean + _f64(noise) * stddev, clean, stddev


def topk(logits, k):
    """moe.topk over the last axis: (values, indices), both [..., k].

    Descending; equal values keep the lower index first (a stable sort of
    the negated values).
    """
    logits = _f64(logits)
    order = np.argsort(-logits, axis=-1, kind="stable")[..., :k]
    return np.take_along_axis(logits, order, axis=-1), order.astype(np.int64)


def route_weights(logits, values, normalization, renormalize=False):
    """moe.route_weights over the last axis: the k gate values [..., k].

    topk_softmax: softmax over the k kept values; softmax_topk: softmax over
    all logits, the k kept; sigmoid_topk: sigmoid of each kept value.  With
    renormalize the k weights are divided by their sum.
    """
    logits, values = _f64(logits), _f64(values)
    if normalization == "topk_softmax":
        weights = _softmax(values)
    elif normalization == "softmax_topk":
        row_max = logits.max(axis=-1, keepdims=True)
        weights = np.exp(values - row_max) / np.exp(logits - row_max).sum(
            axis=-1, keepdims=True)
    elif normalization == "sigmoid_topk":
        weights = _sigmoid(values)
    else:
        raise ValueError(f"unknown normalization '{normalization}'")
    if renormalize:
        weights = weights / weights.sum(axis=-1, keepdims=True)
    return weights


def compose_routing(primary_gates, primary_indices, secondary_gates,
                    secondary_indices, group_size):
    """moe.compose_routing: flatten [T, k1] x [T, a, k2] routing to [T, k1*k2].

    gates[t, i*k2+j] = pg[t, i] * sg[t, pi[t, i], j];
    indices[t, i*k2+j] = pi[t, i] * b + si[t, pi[t, i], j].
    """
    primary_indices = np.asarray(primary_indices, dtype=np.int64)
    tokens = primary_indices.shape[0]
    chosen = primary_indices[:, :, None]
    sg = np.take_along_axis(_f64(secondary_gates), chosen, axis=1)
    si = np.take_along_axis(np.asarray(secondary_indices, dtype=np.int64),
                            chosen, axis=1)
    gates = _f64(primary_gates)[:, :, None] * sg
    indices = chosen * group_size + si
    return gates.reshape(tokens, -1), indices.reshape(tokens, -1)


def dispatch(x, indices, num_experts):
    """moe.dispatch (dropless): (tokens [T*k, d], offsets [n+1], rows [T, k]).

    Copies are grouped by expert, expert 0 first; inside a group ordered by
    token, then by choice.  offsets is the exclusive prefix sum of the group
    sizes; rows[t, j] is the row of tokens holding choice (t, j).
    """
    x = _f64(x)
    indices = np.asarray(indices, dtype=np.int64)
    tokens, k = indices.shape
    flat = indices.reshape(-1)  # (t, j) in row-major order
    order = np.argsort(flat, kind="stable")
    rows = np.empty(tokens * k, dtype=np.int64)
    rows[order] = np.arange(tokens * k)
    counts = np.bincount(flat, minlength=num_experts)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return x[order // k], offsets, rows.reshape(tokens, k)


def capacity(tokens, k, num_experts, capacity_factor):
    """C = ceil(k*T*capacity_factor/n), in double as the compiler computes it."""
    return math.ceil(float(k * tokens) * capacity_factor / float(num_experts))


def capacity_dispatch(x, indices, num_experts, capacity_factor):
    """moe.capacity_dispatch: (tokens [n, C, d], rows [T, k]).

    Slots are filled in priority order, all first choices in token order,
    then all second choices, ...; a choice finding its expert full is
    dropped (row -1).  Unused slots are zero.
    """
    x = _f64(x)
    indices = np.asarray(indices, dtype=np.int64)
    num_tokens, k = indices.shape
    slots = capacity(num_tokens, k, num_experts, capacity_factor)
    tokens = np.zeros((num_experts, slots, x.shape[1]))
    rows = np.full((num_tokens, k), -1, dtype=np.int64)
    fill = np.zeros(num_experts, dtype=np.int64)
    for j in range(k):
        for t in range(num_tokens):
            e = indices[t, j]
            if fill[e] < slots:
                rows[t, j] = e * slots + fill[e]
                tokens[e, fill[e]] = x[t]
                fill[e] += 1
    return tokens, rows


def _expert(group, e, w1, b1, w3, w2, b2, activation):
    """One feed-forward expert e on its token group [rows, d] -> [rows, d_out]."""
    hidden = group @ _f64(w1[e])
    if b1 is not None:
        hidden = hidden + _f64(b1[e])
    activated = ACTIVATIONS[activation](hidden)
    if w3 is not None:
        activated = activated * (group @ _f64(w3[e]))
    out = activated @ _f64(w2[e])
    if b2 is not None:
        out = out + _f64(b2[e])
    return out


def expert_ffn(tokens, offsets, w1, b1, w3, w2, b2, activation):
    """moe.expert_ffn: act(X@w1[e] + b1[e]) (* X@w3[e]) @ w2[e] + b2[e] per expert.

    Dropless layout: tokens [R, d] with offsets [n+1] (group e is rows
    offsets[e]..offsets[e+1]); capacity layout: tokens [n, C, d] and offsets
    None.  Absent optional weights are None.  Weights are converted to
    float64 one expert at a time, so full-size stacks stay in their dtype.
    """
    tokens = _f64(tokens)
    if offsets is None:
        return np.stack([_expert(tokens[e], e, w1, b1, w3, w2, b2, activation)
                         for e in range(tokens.shape[0])])
    out = np.zeros((tokens.shape[0], w2.shape[2]))
    for e in range(len(offsets) - 1):
        begin, end = offsets[e], offsets[e + 1]
        if begin < end:
            out[begin:end] = _expert(tokens[begin:end], e, w1, b1, w3, w2, b2,
                                     activation)
    return out


def combine(expert_output, gates, rows):
    """moe.combine: out[t] = sum_j gates[t, j] * expert_output[rows[t, j]].

    expert_output is [R, d_out], or [n, C, d_out] indexed as [n*C, d_out];
    choices with row -1 (dropped) are skipped.
    """
    expert_output = _f64(expert_output)
    expert_output = expert_output.reshape(-1, expert_output.shape[-1])
    gates = _f64(gates)
    rows = np.asarray(rows, dtype=np.int64)
    out = np.zeros((rows.shape[0], expert_output.shape[1]))
    for j in range(rows.shape[1]):
        kept = rows[:, j] >= 0
        out[kept] += gates[kept, j, None] * expert_output[rows[kept, j]]
    return out


def importance(gates, indices, num_experts):
    """moe.importance: imp[e] = sum of gates[t, j] over indices[t, j] == e."""
    return np.bincount(np.asarray(indices, dtype=np.int64).reshape(-1),
                       weights=_f64(gates).reshape(-1),
                       minlength=num_experts)


def _top_k_members(logits, k):
    """Boolean mask of each row's top k (last axis), by the tie rule."""
    _, chosen = topk(logits, k)
    members = np.zeros(logits.shape, dtype=bool)
    np.put_along_axis(members, chosen, True, axis=-1)
    return members


def load(logits, k, clean=None, stddev=None, primary_indices=None,
         primary_load=None):
    """moe.load: per-expert (smooth) token count of the top-k routing of logits.

    logits [T, n] -> [n], or [T, a, b] -> [a, b] with top k inside each
    group's b entries.  Without noise (clean None) each token counts 1 for
    the experts in its top k.  With noise it counts
    Phi((clean - kth_excluding(logits, k, e)) / stddev), the threshold being
    the (k+1)-th largest value for an expert inside the top k and the k-th
    largest otherwise; with k equal to the row length it is the count.

    With `within(primary_indices [T, k1], primary_load [a])` (hierarchical,
    3-D logits) the result is Load_H[i, j] = primary_load[i] * L[i, j] /
    cnt[i], where L sums the per-token values over the tokens whose primary
    choices include group i and cnt[i] counts those tokens (0 where none).
    """
    logits = _f64(logits)
    row_length = logits.shape[-1]
    members = _top_k_members(logits, k)
    if clean is None or k == row_length:
        per_token = members.astype(np.float64)
    else:
        descending = -np.sort(-logits, axis=-1)
        threshold = np.where(members, descending[..., k:k + 1],
                             descending[..., k - 1:k])
        per_token = _phi((_f64(clean) - threshold) / _f64(stddev))
    if primary_indices is None:
        return per_token.sum(axis=0)
    if logits.ndim != 3:
        raise ValueError("load within(...) needs logits [T, a, b]")
    in_group = np.zeros(logits.shape[:2])
    np.put_along_axis(in_group, np.asarray(primary_indices, dtype=np.int64),
                      1.0, axis=1)
    group_load = np.einsum("ti,tij->ij", in_group, per_token)
    group_tokens = in_group.sum(axis=0)
    result = np.zeros(logits.shape[1:])
    used = group_tokens > 0
    result[used] = (_f64(primary_load)[used, None] * group_load[used] /
                    group_tokens[used, None])
    return result


def cv_squared(values, weight):
    """moe.cv_squared: weight * var(v, unbiased) / (mean(v)^2 + 1e-10), all elements."""
    values = _f64(values).reshape(-1)
    return weight * values.var(ddof=1) / (values.mean() ** 2 + 1e-10)


def switch_loss(logits, indices, weight):
    """moe.switch_loss: weight * n * sum_e f_e * p_e.

    f_e: fraction of the T*k choices that go to e; p_e: mean over tokens of
    softmax(logits)[t, e].
    """
    logits = _f64(logits)
    indices = np.asarray(indices, dtype=np.int64)
    num_experts = logits.shape[1]
    fraction = np.bincount(indices.reshape(-1),
                           minlength=num_experts) / indices.size
    probability = _softmax(logits).mean(axis=0)
    return weight * num_experts * np.sum(fraction * probability)


def z_loss(logits, weight):
    """moe.z_loss: weight * mean_t (logsumexp_e logits[t, e])^2."""
    logits = _f64(logits)
    row_max = logits.max(axis=1)
    lse = row_max + np.log(np.exp(logits - row_max[:, None]).sum(axis=1))
    return weight * np.mean(lse ** 2)


def _gating(config, x, w_gate, w_noise, noise):
    """(logits, clean, stddev): noisy gating when a noise pair is given."""
    if w_noise is None:
        return gate(x, w_gate), None, None
    return noisy_gate(x, w_gate, w_noise, noise, config.noise_epsilon)


def _flat_routing(config, x, ops):
    logits, clean, stddev = _gating(config, x, ops["w_gate"],
                                    ops.get("w_noise"), ops.get("noise"))
    values, indices = topk(logits, config.k)
    gates = route_weights(logits, values, config.normalization,
                          config.renormalize)
    routing_logits = [{"level": "gate", "logits": logits, "k": config.k,
                       "token": np.arange(logits.shape[0]), "group": None}]
    return gates, indices, load(logits, config.k, clean, stddev), routing_logits


def _hierarchical_routing(config, x, ops):
    tokens = x.shape[0]
    groups, group_size = config.num_groups, config.group_size
    p_logits, p_clean, p_stddev = _gating(config, x, ops["w_gate"],
                                          ops.get("w_noise"), ops.get("noise"))
    p_values, p_indices = topk(p_logits, config.group_k)
    p_gates = route_weights(p_logits, p_values, config.normalization,
                            config.renormalize)

    s_logits, s_clean, s_stddev = _gating(
        config, x, ops["secondary_w_gate"], ops.get("secondary_w_noise"),
        ops.get("secondary_noise"))

    def per_group(a):
        return None if a is None else a.reshape(tokens, groups, group_size)

    s_logits = per_group(s_logits)
    s_values, s_indices = topk(s_logits, config.k)
    s_gates = route_weights(s_logits, s_values, config.normalization,
                            config.renormalize)
    gates, indices = compose_routing(p_gates, p_indices, s_gates, s_indices,
                                     group_size)

    primary_load = load(p_logits, config.group_k, p_clean, p_stddev)
    expert_load = load(s_logits, config.k, per_group(s_clean),
                       per_group(s_stddev), p_indices, primary_load)

    # Only the groups a token was sent to route it; the others' ties are moot.
    token, group = np.nonzero(_top_k_members(p_logits, config.group_k))
    routing_logits = [
        {"level": "primary", "logits": p_logits, "k": config.group_k,
         "token": np.arange(tokens), "group": None},
        {"level": "secondary", "logits": s_logits[token, group],
         "k": config.k, "token": token, "group": group}]
    return gates, indices, expert_load, routing_logits


def layer(config, arrays):
    """moe.layer: (output [T, d], importance_loss, load_loss, intermediates).

    `config` is an examples/models.py ModelConfig; `arrays` maps its entry
    argument names to arrays.  Flat: gating -> topk -> route_weights ->
    dispatch (capacity_dispatch with a capacity_factor) -> expert_ffn ->
    combine.  Hierarchical: primary top-group_k over the groups, secondary
    top-k inside every group, compose_routing, then the flat path over all n
    experts; the load is Load_H.  The losses are cv_squared of the importance
    of the flat routing and of the load.

    intermediates: gates and indices [T, k] of the flat routing,
    tokens_per_expert [n] (choices the experts actually process, i.e. after
    capacity drops), and routing_logits: per gating level the rows whose
    top-k decided the routing, as dicts {level, logits [R, m], k, token [R],
    group [R] or None}, for diagnosing near-ties.
    """
    ops = {role: arrays[name] for name, role in config.arguments}
    x = _f64(ops["input"])
    route = _hierarchical_routing if config.hierarchical else _flat_routing
    gates, indices, expert_load, routing_logits = route(config, x, ops)

    if config.capacity_factor is None:
        tokens, offsets, rows = dispatch(x, indices, config.n)
    else:
        tokens, rows = capacity_dispatch(x, indices, config.n,
                                         config.capacity_factor)
        offsets = None
    expert_output = expert_ffn(tokens, offsets, ops["w1"], ops.get("b1"),
                               ops.get("w3"), ops["w2"], ops.get("b2"),
                               config.activation)
    output = combine(expert_output, gates, rows)

    importance_loss = cv_squared(importance(gates, indices, config.n),
                                 config.importance_weight)
    load_loss = cv_squared(expert_load, config.load_weight)
    intermediates = {
        "gates": gates,
        "indices": indices,
        "tokens_per_expert": np.bincount(indices[rows >= 0],
                                         minlength=config.n),
        "routing_logits": routing_logits,
    }
    return output, importance_loss, load_loss, intermediates
