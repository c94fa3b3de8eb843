"""The step graph of a recurrent mask model, written node by node with ONNX's own GRU/LSTM/RNN
operators instead of traced by torch.onnx.export.

Why: one step runs every 8 ms, and onnxruntime-web pays for every node and, more, for every input
and output tensor of a run. The traced graph carries the batch-first transposes, squeezes and
per-layer slices of the state; this one has none of them, folds the feature normalisation into
the encoder's weights and carries the magnitudes and all state in one tensor in, the mask and all
state in one out. The parity tests hold it to the
PyTorch model: ONNX steps against the whole-sequence golden, in TypeScript.
"""
import numpy as np
import onnx
from onnx import TensorProto
from onnx import helper as h
from onnx import numpy_helper

from .config import N_BINS
from .model import (FLOOR_FALL, FLOOR_RISE, LEVEL_MIN_WEIGHT, N_BANDS, REFINER_VIEW_SCALE, VOICING_BINS, VOICING_RANGES,
                    band_matrices, voicing_basis)

# PyTorch stacks the gates of its recurrent cells in one order, ONNX in another.
GATE_ORDER = {
    "gru": [1, 0, 2],  # torch r, z, n  → ONNX z, r, h
    "lstm": [0, 3, 1, 2],  # torch i, f, g, o → ONNX i, o, f, c
    "rnn": [0],
}
OPERATOR = {"gru": "GRU", "lstm": "LSTM", "rnn": "RNN"}


def level_norm_nodes(const, mean_in, count_in, mean_out, count_out, floor_in=None, floor_out=None, extra=()):
    """Features.raw's level states for one frame: log_power → the next running mean (8 nodes with
    the encoder's Concat) and, given floor_in, the next noise floor (5 more); the features
    themselves are folded into the encoder, see fold_level_encoder. `extra`: more of the encoder's
    inputs, after those (the voicing view)."""
    nodes = [
        h.make_node("Add", [count_in, const("one", [[1.0]])], [count_out]),
        h.make_node("Reciprocal", [count_out], ["inverse_count"]),
        h.make_node("Max", ["inverse_count", const("min_weight", [[LEVEL_MIN_WEIGHT]])], ["weight"]),
        h.make_node("Sub", ["log_power", mean_in], ["innovation"]),
        h.make_node("Mul", ["innovation", "weight"], ["mean_step"]),
        h.make_node("Add", [mean_in, "mean_step"], [mean_out]),
    ]
    if floor_in is None:
        return nodes + [h.make_node("Concat", ["log_power", mean_out, *extra], ["log_power_and_mean"], axis=1)]
    return nodes + [
        h.make_node("Equal", [count_in, const("zero", [[0.0]])], ["first_frame"]),
        h.make_node("Where", ["first_frame", "log_power", floor_in], ["floor_before"]),  # a stream's first frame sets it
        h.make_node("Sub", ["log_power", "floor_before"], ["floor_gap"]),
        h.make_node("Clip", ["floor_gap", const("floor_fall", np.array(-FLOOR_FALL)), const("floor_rise", np.array(FLOOR_RISE))],
                    ["floor_slew"]),
        h.make_node("Add", ["floor_before", "floor_slew"], [floor_out]),
        h.make_node("Concat", ["log_power", mean_out, floor_out, *extra], ["log_power_and_mean"], axis=1),
    ]


def voicing_nodes(const):
    """Features.voicing: log_power → voicing [1, VOICING_RANGES] (4 nodes)."""
    return [
        h.make_node("Slice", ["log_power", const("voicing_first", [VOICING_BINS[0]], np.int64),
                              const("voicing_end", [VOICING_BINS[1]], np.int64), const("voicing_axis", [1], np.int64)],
                    ["voicing_log_power"]),
        h.make_node("MatMul", ["voicing_log_power", const("voicing_basis", voicing_basis().numpy())], ["cepstrum"]),
        h.make_node("Reshape", ["cepstrum", const("voicing_shape", [1, VOICING_RANGES, -1], np.int64)], ["cepstrum_ranges"]),
        h.make_node("ReduceMax", ["cepstrum_ranges"], ["voicing"], axes=[2], keepdims=0),
    ]


def refiner_nodes(const, sd, baselines):
    """model.decode's refiner: linear_logits → logits. Its views (log power over each of
    `baselines`, the running mean and the noise floor's next values) enter at REFINER_VIEW_SCALE,
    which is folded into the first layer's weights. Each layer acts on every bin's column of the
    [inputs, bins] rows: a Gemm with the weights on the left, and no transposes."""
    w1 = sd["refiner.0.weight"].copy()  # [channels, 1 + views]
    w1[:, 1:] *= REFINER_VIEW_SCALE
    views = [f"over_{b}" for b in baselines]
    return [h.make_node("Sub", ["log_power", b], [v]) for b, v in zip(baselines, views)] + [
        h.make_node("Concat", ["linear_logits"] + views, ["refiner_in"], axis=0),  # [1 + views, bins]
        h.make_node("Gemm", [const("refiner_w1", w1), "refiner_in", const("refiner_b1", sd["refiner.0.bias"][:, None])],
                    ["refiner_hidden"]),
        h.make_node("PRelu", ["refiner_hidden", const("refiner_slope", sd["refiner.1.weight"])], ["refiner_act"]),
        h.make_node("Gemm", [const("refiner_w2", sd["refiner.2.weight"]), "refiner_act",
                             const("refiner_b2", sd["refiner.2.bias"][:, None])], ["refinement"]),
        h.make_node("Add", ["linear_logits", "refinement"], ["logits"]),
    ]


def fold_level_encoder(w, b):
    """The encoder W·f + b on f = [x − mean(μ)·1, x − μ] (x log power, μ its running means),
    rewritten on [x, μ]: (W_a + W_b)·x − (W_a·1·1ᵀ/bins + W_b)·μ + b. One Gemm, no feature nodes.
    With the noise floor φ, f has a third part x − φ and the map a third block: W_c·x − W_c·φ."""
    w_a, w_b, w_c = w[:, :N_BINS], w[:, N_BINS:2 * N_BINS], w[:, 2 * N_BINS:]
    w_mean = w_a.sum(axis=1, keepdims=True) / N_BINS + w_b
    if not w_c.size:
        return np.concatenate([w_a + w_b, -w_mean], axis=1), b
    return np.concatenate([w_a + w_b + w_c, -w_mean, -w_c], axis=1), b


def recurrent_step_graph(model, in_name, out_name):
    """ONNX model: one tensor in, the magnitudes [257] then the carried state (the parts of
    model.state_layout, in order); one out, the mask then the next state. The Split that unpacks
    the state and the Concat that packs it are there anyway: with the magnitudes and the mask in
    them, a run moves two tensors instead of four."""
    sd = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}
    hidden, layers, cell = model.hidden, model.layers, model.cell
    level_norm = model.features.level_norm
    layout = model.state_layout()
    levels = len(model.features.states())
    rnn_parts = [name for name, _ in layout[:len(layout) - levels]]
    rnn_in, rnn_out = [f"{n}_in" for n in rnn_parts], [f"{n}_out" for n in rnn_parts]
    level_in, level_out = [[f"{n}_{end}" for n, _ in model.features.states()] for end in ("in", "out")]
    initializers = []

    def const(name, value, dtype=np.float32):
        initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    # (features − mean) / std, then W·x + b, is one affine map of the features: fold it.
    enc_w = sd["encoder.0.weight"] / sd["features.std"][None, :]
    enc_b = sd["encoder.0.bias"] - enc_w @ sd["features.mean"]
    decoder_w, decoder_b = sd["decoder.weight"], sd["decoder.bias"]
    if model.has_skip:  # one map on [last layer's state, encoder's output]: model.RecurrentMask's skip
        decoder_w = np.concatenate([decoder_w, sd["skip.weight"]], axis=1)
    if model.features.bands:
        # averaging into bands, then W, is one map on the bins (W · pool), and so is a band's logit
        # spread over the bins (spread · W): the graph reads and masks bins, as without bands
        pool, spread = (m.numpy() for m in band_matrices())
        views = model.features.views
        enc_w = np.concatenate([enc_w[:, v * N_BANDS:(v + 1) * N_BANDS] @ pool for v in range(views)]
                               + [enc_w[:, views * N_BANDS:]], axis=1)
        decoder_w, decoder_b = spread @ decoder_w, spread @ decoder_b
    voiced = model.features.voicing
    if level_norm:
        # the voicing view's columns act on it as they are; the fold is the per-bin views' business
        split = enc_w.shape[1] - (VOICING_RANGES if voiced else 0)
        folded, enc_b = fold_level_encoder(enc_w[:, :split], enc_b)
        enc_w = np.concatenate([folded, enc_w[:, split:]], axis=1)
    state_shape = const("state_shape", [1, 1, hidden], np.int64)  # the recurrent operators' [seq, batch, hidden]
    row_shape = const("row_shape", [1, hidden], np.int64)
    nodes = [h.make_node("Split", [in_name, const("part_sizes", [N_BINS] + [size for _, size in layout], np.int64)],
                         ["magnitudes"] + [f"{n}_row" for n in rnn_parts] + level_in[:levels], axis=1)]
    nodes += [h.make_node("Reshape", [f"{n}_row", state_shape], [f"{n}_in"]) for n in rnn_parts]
    nodes += [
        h.make_node("Mul", ["magnitudes", "magnitudes"], ["power"]),
        h.make_node("Add", ["power", const("epsilon", [1e-10])], ["power_eps"]),
        h.make_node("Log", ["power_eps"], ["log_power"]),
    ]
    if voiced:
        nodes += voicing_nodes(const)
    if level_norm:
        nodes += level_norm_nodes(const, *level_in[:2], *level_out[:2], *(level_in[2:] + level_out[2:]),
                                  extra=["voicing"] if voiced else [])
    nodes += [
        h.make_node("Gemm", ["log_power_and_mean" if level_norm else "log_power", const("encoder_w", enc_w),
                             const("encoder_b", enc_b)], ["encoded"], transB=1),
        h.make_node("PRelu", ["encoded", const("encoder_slope", sd["encoder.1.weight"])], ["encoded_act"]),
        # [1, hidden] → [seq 1, batch 1, hidden], the recurrent operators' input layout
        h.make_node("Reshape", ["encoded_act", state_shape], ["x0"]),
    ]
    kinds = 2 if cell == "lstm" else 1  # rnn_in: h per layer, then c per layer
    per_layer_states = [rnn_in[k * layers:(k + 1) * layers] for k in range(kinds)]
    per_layer_outs = [rnn_out[k * layers:(k + 1) * layers] for k in range(kinds)]

    gates = GATE_ORDER[cell]

    def reorder(m):
        return np.concatenate([m[g * hidden:(g + 1) * hidden] for g in gates], 0)

    x = "x0"
    for layer in range(layers):
        w = const(f"W{layer}", reorder(sd[f"rnn.weight_ih_l{layer}"])[None])
        r = const(f"R{layer}", reorder(sd[f"rnn.weight_hh_l{layer}"])[None])
        b = const(f"B{layer}", np.concatenate([reorder(sd[f"rnn.bias_ih_l{layer}"]),
                                               reorder(sd[f"rnn.bias_hh_l{layer}"])])[None])
        inputs = [x, w, r, b, "", per_layer_states[0][layer]]
        layer_outs = ["", per_layer_outs[0][layer]]  # Y is not needed: for one step it equals Y_h
        attrs = {"hidden_size": hidden}
        if cell == "gru":
            attrs["linear_before_reset"] = 1  # PyTorch's GRU applies the reset gate after R·h
        if cell == "lstm":
            inputs.append(per_layer_states[1][layer])
            layer_outs.append(per_layer_outs[1][layer])
        nodes.append(h.make_node(OPERATOR[cell], inputs, layer_outs, **attrs))
        x = per_layer_outs[0][layer]  # Y_h [1, 1, hidden] is also the next layer's [seq, batch, input]
    nodes += [h.make_node("Reshape", [f"{n}_out", row_shape], [f"{n}_out_row"]) for n in rnn_parts]
    last_row = f"{rnn_parts[layers - 1]}_out_row"
    refined = bool(model.refiner_channels)
    if model.has_skip:
        nodes.append(h.make_node("Concat", [last_row, "encoded_act"], ["decoder_in"], axis=1))
    decoder_in = "decoder_in" if model.has_skip else last_row
    nodes.append(h.make_node("Gemm", [decoder_in, const("decoder_w", decoder_w), const("decoder_b", decoder_b)],
                             ["decoded" if model.local_snr else "linear_logits" if refined else "logits"], transB=1))
    if model.local_snr:  # model.decode: plus each bin's slope times its log power over its noise floor
        nodes += [
            h.make_node("Gemm", [last_row, const("snr_slope_w", sd["snr_slope.weight"]), const("snr_slope_b", sd["snr_slope.bias"])],
                        ["snr_slope"], transB=1),
            h.make_node("Sub", ["log_power", level_out[2]], ["local_snr"]),
            h.make_node("Mul", ["snr_slope", "local_snr"], ["snr_term"]),
            h.make_node("Add", ["decoded", "snr_term"], ["linear_logits" if refined else "logits"]),
        ]
    if refined:
        nodes += refiner_nodes(const, sd, [level_out[0]] + level_out[2:3])
    if model.mask_gain == 1.0:
        nodes.append(h.make_node("Sigmoid", ["logits"], ["mask"]))
    else:  # model.gained_mask
        nodes += [h.make_node("Sigmoid", ["logits"], ["unit_mask"]),
                  h.make_node("Mul", ["unit_mask", const("mask_gain", np.array(model.mask_gain))], ["gained_mask"]),
                  h.make_node("Min", ["gained_mask", const("mask_ceiling", np.array(1.0))], ["mask"])]
    nodes.append(h.make_node("Concat", ["mask"] + [f"{n}_out_row" for n in rnn_parts] + level_out[:levels], [out_name], axis=1))
    values = [1, N_BINS + sum(size for _, size in layout)]
    graph = h.make_graph(nodes, "quell-step", [h.make_tensor_value_info(in_name, TensorProto.FLOAT, values)],
                         [h.make_tensor_value_info(out_name, TensorProto.FLOAT, values)], initializers)
    proto = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], producer_name="quell")
    proto.ir_version = 8  # what onnxruntime-web and the opset-17 exporter agree on
    onnx.checker.check_model(proto)
    return proto
