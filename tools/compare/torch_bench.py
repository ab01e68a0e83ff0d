#!/usr/bin/python3
"""Greedy decode speed of PyTorch eager on a Hugging Face LLaMA folder, with a small hand-written forward and KV cache.

    /usr/bin/python3 tools/compare/torch_bench.py --model DIR [--dtype bfloat16|float32] [--threads 2]
        [--prompt-ids 1,2,3] [--max-new-tokens 32] [--runs 3]

Needs only torch (Debian's python3-torch; no transformers or safetensors package: the checkpoint is read by hand).
The forward follows transformers' LlamaForCausalLM in eager mode: RMSNorm in fp32, rotate-half rope with LLaMA-3.1
frequency scaling, grouped-query attention with the softmax in fp32, SwiGLU MLP. Prints one JSON object;
decode_ms_per_token is the best run's time from the first generated token to the last over the tokens after the first,
as `eagle bench` and llamacpp-bench.mjs measure it.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

DEFAULT_PROMPT = [128000, 9906, 1917, 11, 358, 1097, 264, 4382, 1646, 430, 374, 1618, 311, 1518, 1268, 5043]


def fail(message):
    print(f"torch_bench: {message}", file=sys.stderr)
    sys.exit(1)


try:
    import torch
    import torch.nn.functional as F
except ImportError as e:
    fail(f"PyTorch is not importable ({e}): apt-get install python3-torch, and run with /usr/bin/python3")


SAFETENSORS_DTYPES = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}


def load_tensors(folder, dtype):
    """name → tensor in dtype, from model.safetensors or its shards (read by hand: Debian has no safetensors package)."""
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    elif os.path.exists(os.path.join(folder, "model.safetensors")):
        files = ["model.safetensors"]
    else:
        fail(f"{folder}: neither model.safetensors nor model.safetensors.index.json found")
    tensors = {}
    for name in files:
        path = os.path.join(folder, name)
        with open(path, "rb") as f:
            (header_length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(header_length))
            for key, t in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0] if kv[0] != "__metadata__" else -1):
                if key == "__metadata__":
                    continue
                if t["dtype"] not in SAFETENSORS_DTYPES:
                    fail(f"{path}: tensor {key} has dtype {t['dtype']}; expected one of {', '.join(SAFETENSORS_DTYPES)}")
                begin, end = t["data_offsets"]
                f.seek(8 + header_length + begin)
                raw = bytearray(f.read(end - begin))
                tensors[key] = torch.frombuffer(raw, dtype=SAFETENSORS_DTYPES[t["dtype"]]).reshape(t["shape"]).to(dtype).clone()
    return tensors


def inverse_frequencies(config):
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    theta = config.get("rope_theta", 10000.0)
    inv = [1.0 / theta ** (2 * i / head_dim) for i in range(head_dim // 2)]
    s = config.get("rope_scaling")
    kind = (s or {}).get("rope_type", (s or {}).get("type"))
    if not s or kind == "default":
        return torch.tensor(inv, dtype=torch.float32)
    if kind != "llama3":
        fail(f"config.json rope_scaling '{kind}': only llama3 (or none) is implemented")
    old = s["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / s["low_freq_factor"], old / s["high_freq_factor"]
    out = []
    for f in inv:
        wavelen = 2 * math.pi / f
        if wavelen > low_wavelen:
            f = f / s["factor"]
        elif wavelen >= high_wavelen:
            smooth = (old / wavelen - s["low_freq_factor"]) / (s["high_freq_factor"] - s["low_freq_factor"])
            f = (1 - smooth) * f / s["factor"] + smooth * f
        out.append(f)
    return torch.tensor(out, dtype=torch.float32)


class Llama:
    def __init__(self, folder, dtype, max_positions):
        with open(os.path.join(folder, "config.json")) as f:
            c = json.load(f)
        self.dtype = dtype
        self.layers = c["num_hidden_layers"]
        self.heads = c["num_attention_heads"]
        self.kv_heads = c.get("num_key_value_heads") or self.heads
        self.head_dim = c.get("head_dim") or c["hidden_size"] // self.heads
        self.eps = c.get("rms_norm_eps", 1e-5)
        self.w = load_tensors(folder, dtype)
        self.lm_head = self.w["model.embed_tokens.weight"] if c.get("tie_word_embeddings") else self.w["lm_head.weight"]
        freqs = torch.outer(torch.arange(max_positions, dtype=torch.float32), inverse_frequencies(c))
        emb = torch.cat([freqs, freqs], -1)
        self.cos, self.sin = emb.cos().to(dtype), emb.sin().to(dtype)
        self.k_cache = torch.zeros(self.layers, self.kv_heads, max_positions, self.head_dim, dtype=dtype)
        self.v_cache = torch.zeros_like(self.k_cache)

    def rms_norm(self, x, weight):
        x32 = x.float()
        return weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).to(self.dtype)

    @staticmethod
    def rotate(x, cos, sin):
        half = x.shape[-1] // 2
        return x * cos + torch.cat([-x[..., half:], x[..., :half]], -1) * sin

    def forward(self, ids, start):
        """Logits of the last of ids [T] at positions start… (the cache holds positions before start)."""
        T, d, group = len(ids), self.head_dim, self.heads // self.kv_heads
        end = start + T
        x = self.w["model.embed_tokens.weight"][torch.tensor(ids)]
        cos, sin = self.cos[start:end], self.sin[start:end]
        mask = None
        if T > 1:
            mask = torch.full((T, end), float("-inf")).triu(start + 1)
        for i in range(self.layers):
            p = f"model.layers.{i}."
            h = self.rms_norm(x, self.w[p + "input_layernorm.weight"])
            q = F.linear(h, self.w[p + "self_attn.q_proj.weight"]).view(T, self.heads, d).transpose(0, 1)
            k = F.linear(h, self.w[p + "self_attn.k_proj.weight"]).view(T, self.kv_heads, d).transpose(0, 1)
            v = F.linear(h, self.w[p + "self_attn.v_proj.weight"]).view(T, self.kv_heads, d).transpose(0, 1)
            self.k_cache[i, :, start:end] = self.rotate(k, cos, sin)
            self.v_cache[i, :, start:end] = v
            q = self.rotate(q, cos, sin).reshape(self.kv_heads, group * T, d)
            scores = torch.matmul(q, self.k_cache[i, :, :end].transpose(1, 2)).float() / math.sqrt(d)
            scores = scores.view(self.kv_heads, group, T, end)
            if mask is not None:
                scores = scores + mask
            probs = torch.softmax(scores, -1).to(self.dtype).view(self.kv_heads, group * T, end)
            attn = torch.matmul(probs, self.v_cache[i, :, :end]).view(self.heads, T, d).transpose(0, 1).reshape(T, self.heads * d)
            x = x + F.linear(attn, self.w[p + "self_attn.o_proj.weight"])
            h = self.rms_norm(x, self.w[p + "post_attention_layernorm.weight"])
            mlp = F.silu(F.linear(h, self.w[p + "mlp.gate_proj.weight"])) * F.linear(h, self.w[p + "mlp.up_proj.weight"])
            x = x + F.linear(mlp, self.w[p + "mlp.down_proj.weight"])
        return F.linear(self.rms_norm(x[-1:], self.w["model.norm.weight"]), self.lm_head)[0]


def decode(model, prompt, n):
    ids = []
    start = time.perf_counter()
    token = int(model.forward(prompt, 0).argmax())
    first = time.perf_counter()
    ids.append(token)
    while len(ids) < n:
        token = int(model.forward([token], len(prompt) + len(ids) - 1).argmax())
        ids.append(token)
    end = time.perf_counter()
    return ids, (first - start) * 1000, (end - first) * 1000 / (n - 1)


def blas():
    """Which libblas.so.3 Debian's alternatives give torch's fp32 matmuls (reference BLAS is single-threaded)."""
    path = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    return next((name for name in ("openblas", "blis", "mkl", "atlas") if name in path), "reference (netlib)" if os.path.exists(path) else "unknown")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-ids")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    if not os.path.isfile(os.path.join(a.model, "config.json")):
        fail(f"--model {a.model}: config.json not found")
    if a.threads < 1 or a.runs < 1 or a.max_new_tokens < 2:
        fail("--threads and --runs must be ≥ 1, --max-new-tokens ≥ 2")
    try:
        prompt = [int(s) for s in a.prompt_ids.split(",")] if a.prompt_ids else DEFAULT_PROMPT
    except ValueError:
        fail(f"--prompt-ids: expected comma-separated token ids, got '{a.prompt_ids}'")
    torch.set_num_threads(a.threads)
    dtype = torch.bfloat16 if a.dtype == "bfloat16" else torch.float32
    with torch.inference_mode():
        model = Llama(a.model, dtype, len(prompt) + a.max_new_tokens)
        decode(model, prompt, 4)  # warm-up
        results = [decode(model, prompt, a.max_new_tokens) for _ in range(a.runs)]
    best = min(results, key=lambda r: r[2])
    print(json.dumps({
        "engine": "pytorch-eager",
        "runtime": f"torch {torch.__version__} (Debian python3-torch), fp32 BLAS {blas()}",
        "model": a.model,
        "dtype": a.dtype,
        "threads": torch.get_num_threads(),
        "prompt_tokens": len(prompt),
        "max_new_tokens": a.max_new_tokens,
        "runs": a.runs,
        "decode_ms_per_token": round(best[2], 2),
        "decode_ms_per_token_all_runs": [round(r[2], 2) for r in results],
        "prefill_ms": round(min(r[1] for r in results), 2),
        "output_ids": best[0],
    }))


if __name__ == "__main__":
    main()
