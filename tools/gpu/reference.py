#!/usr/bin/env python3
"""Writes tiny random LLaMA checkpoints and what Hugging Face transformers computes from them.

Usage: python3 reference.py OUTPUT_DIR [--seed N]

For each checkpoint in CHECKPOINTS it writes OUTPUT_DIR/<name>/ with
  config.json        the classic Hugging Face LLaMA keys (as real LLaMA-3.x checkpoints have them)
  model.safetensors  float32 weights (lm_head.weight left out when the embeddings are tied)
  reference.json     format "eagle-reference-v1":
                       input_ids            the n prompt ids
                       logits               [n][V] logits of every prompt position
                       hidden_state_layers  ascending layers i of the EAGLE-3 capture set {2, N//2, N-3}
                       hidden_states        [k][n][H]: output_hidden_states[i], the residual stream entering layer i
                       greedy_ids           32 greedy tokens after the prompt (argmax, no stop tokens)
The reference runs on the CPU in float32, so it does not depend on the GPU under test.
`eagle selftest --reference OUTPUT_DIR` compares the engine with these files.
Needs torch, transformers (>= 4.45: head_dim and llama3 rope scaling) and safetensors.
"""
import argparse
import json
import math
import os
import sys

FORMAT = "eagle-reference-v1"
PROMPT_TOKENS = 12
GREEDY_TOKENS = 32
VOCAB = 512

# Three shapes that between them cover what LLaMA-3.x checkpoints vary in: grouped-query attention (4/2, 4/1, 8/8
# heads), llama3 rope scaling or none, tied or untied embeddings, head_dim different from hidden/heads. Layer counts are
# chosen so that the EAGLE-3 capture layers {2, N//2, N-3} are three distinct layers.
CHECKPOINTS = {
    "gqa-llama3-untied": dict(
        hidden_size=64, intermediate_size=160, num_hidden_layers=7, num_attention_heads=4, num_key_value_heads=2,
        head_dim=32, tie_word_embeddings=False, rope_theta=500000.0,
        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                          original_max_position_embeddings=64)),
    "mqa-llama3-tied": dict(
        hidden_size=48, intermediate_size=128, num_hidden_layers=8, num_attention_heads=4, num_key_value_heads=1,
        head_dim=24, tie_word_embeddings=True, rope_theta=500000.0,
        rope_scaling=dict(rope_type="llama3", factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0,
                          original_max_position_embeddings=32)),
    "mha-plain-rope-untied": dict(
        hidden_size=64, intermediate_size=192, num_hidden_layers=10, num_attention_heads=8, num_key_value_heads=8,
        head_dim=8, tie_word_embeddings=False, rope_theta=10000.0, rope_scaling=None),
}


def config_json(shape):
    """The config.json dict of one checkpoint."""
    config = dict(
        architectures=["LlamaForCausalLM"], model_type="llama", vocab_size=VOCAB, rms_norm_eps=1e-5,
        max_position_embeddings=2048, bos_token_id=1, eos_token_id=2, hidden_act="silu",
        attention_bias=False, mlp_bias=False, torch_dtype="float32")
    config.update(shape)
    if config["rope_scaling"] is None:
        del config["rope_scaling"]
    return config


def capture_layers(num_layers):
    """EAGLE-3's default capture layers, ascending and distinct."""
    return sorted({2, num_layers // 2, num_layers - 3})


def inverse_frequencies(config):
    """RoPE inverse frequencies as config.json describes them (Meta's llama3 scaling), in plain Python floats."""
    d, theta = config["head_dim"], config["rope_theta"]
    inv = [1.0 / theta ** (2.0 * i / d) for i in range(d // 2)]
    s = config.get("rope_scaling")
    if not s:
        return inv
    low = s["original_max_position_embeddings"] / s["low_freq_factor"]
    high = s["original_max_position_embeddings"] / s["high_freq_factor"]
    out = []
    for f in inv:
        wavelen = 2 * math.pi / f
        if wavelen > low:
            out.append(f / s["factor"])
        elif wavelen >= high:
            smooth = (s["original_max_position_embeddings"] / wavelen - s["low_freq_factor"]) / (
                s["high_freq_factor"] - s["low_freq_factor"])
            out.append((1 - smooth) * f / s["factor"] + smooth * f)
        else:
            out.append(f)
    return out


def init_weights(torch, model, config, generator):
    """Seeded weights like the engine's RandomWeights: unit-scale activations and a peaked lm_head, so greedy
    choices are far from ties (the default 0.02-std init gives near-uniform logits, where any rounding flips argmax)."""
    layers = config["num_hidden_layers"]
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            noise = torch.randn(p.shape, generator=generator)
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * noise)
            elif name.endswith("embed_tokens.weight"):
                p.copy_(noise)
            elif name == "lm_head.weight":
                p.copy_(noise * (8.0 / math.sqrt(p.shape[1])))
            else:
                std = 1.0 / math.sqrt(p.shape[1])
                if name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
                    std /= math.sqrt(2.0 * layers)
                p.copy_(noise * std)


def check_model(torch, model, config):
    """Stops with a message when this transformers version did not build what config.json says."""
    attn = model.model.layers[0].self_attn
    want = config["num_attention_heads"] * config["head_dim"]
    if attn.q_proj.weight.shape[0] != want:
        sys.exit(f"reference.py: transformers ignored head_dim (q_proj has {attn.q_proj.weight.shape[0]} rows, "
                 f"expected {want}); it needs transformers >= 4.45")
    rotary = getattr(model.model, "rotary_emb", None)
    if rotary is None:
        sys.exit("reference.py: model.model.rotary_emb not found; it needs transformers >= 4.45")
    expected = torch.tensor(inverse_frequencies(config), dtype=torch.float32)
    if not torch.allclose(rotary.inv_freq.float().cpu(), expected, rtol=1e-5, atol=0):
        sys.exit("reference.py: transformers' RoPE frequencies differ from config.json's rope_scaling")


def reference_record(torch, model, input_ids, layers, source):
    """The reference.json dict: one forward for logits and hidden states, then greedy decoding by full recompute
    (no KV cache: the simplest loop that is obviously right)."""
    with torch.no_grad():
        out = model(torch.tensor([input_ids]), output_hidden_states=True)
        ids = list(input_ids)
        for _ in range(GREEDY_TOKENS):
            logits = model(torch.tensor([ids])).logits[0, -1]
            ids.append(int(logits.argmax()))
    return {
        "format": FORMAT,
        "source": source,
        "input_ids": list(input_ids),
        "logits": out.logits[0].float().tolist(),
        "hidden_state_layers": layers,
        "hidden_states": [out.hidden_states[i][0].float().tolist() for i in layers],
        "greedy_ids": ids[len(input_ids):],
    }


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, allow_nan=False)  # NaN is not JSON; a NaN here is a bug worth stopping for


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    try:
        import torch
        import transformers
        from safetensors.torch import save_file
    except ImportError as e:
        sys.exit(f"reference.py needs torch, transformers and safetensors (pip install torch transformers safetensors): {e}")

    source = f"transformers {transformers.__version__}, torch {torch.__version__}, cpu float32"
    torch.set_num_threads(min(8, os.cpu_count() or 1))
    for index, (name, shape) in enumerate(CHECKPOINTS.items()):
        config = config_json(shape)
        folder = os.path.join(args.output_dir, name)
        os.makedirs(folder, exist_ok=True)
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**config)).float().eval()
        check_model(torch, model, config)
        generator = torch.Generator().manual_seed(args.seed * 1000 + index)
        init_weights(torch, model, config, generator)
        input_ids = torch.randint(3, VOCAB, (PROMPT_TOKENS,), generator=generator).tolist()
        layers = capture_layers(config["num_hidden_layers"])

        write_json(os.path.join(folder, "config.json"), config)
        tensors = {k: v.contiguous() for k, v in model.state_dict().items()
                   if k.endswith(".weight") and not (config["tie_word_embeddings"] and k == "lm_head.weight")}
        save_file(tensors, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
        write_json(os.path.join(folder, "reference.json"), reference_record(torch, model, input_ids, layers, source))
        print(f"wrote {folder}: {sum(t.numel() for t in tensors.values()):,} parameters, layers {layers}, {source}")


if __name__ == "__main__":
    main()
