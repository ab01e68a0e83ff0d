#!/usr/bin/env node
// Eagle's vanilla decode speed beside llama.cpp and PyTorch eager, on the same random weights, same thread count,
// greedy, same prompt length and token count; and Eagle's speculative decode at a controlled acceptance (`eagle bench
// --acceptance P`: an EAGLE-3-shaped head that really runs, its drafts steered to be right with probability P), since
// random weights accept nothing and issue 11's target compares that to llama.cpp's plain decoding. Creates the model
// and the GGUF files when they are missing, runs each engine in its own process (one at a time, so they do not compete
// for the cores or the memory), and prints one table.
//
//   node tools/compare/compare.mjs [--preset llama3-1b] [--dtypes bf16,fp32]
//        [--engines llama.cpp,pytorch,eagle,eagle-speculative] [--acceptance 0.8] [--prompts 4]
//        [--threads 2] [--max-new-tokens 32] [--runs 3] [--dir .cache/compare] [--json results.json]
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defaultPromptIds, parseArgs, positiveInt } from "./lib/args.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../..");
const usage = "compare.mjs [--preset NAME] [--dtypes bf16,fp32] [--engines llama.cpp,pytorch,eagle,eagle-speculative] [--acceptance P] [--prompts N] [--threads N] [--max-new-tokens N] [--runs N] [--dir DIR] [--json FILE]";
const DTYPES = { bf16: { eagle: "bfloat16", torch: "bfloat16", gguf: "BF16" }, fp32: { eagle: "float32", torch: "float32", gguf: "F32" } };
const ENGINES = ["llama.cpp", "pytorch", "eagle", "eagle-speculative"];

function list(text, allowed, option) {
    const items = text.split(",").map(s => s.trim()).filter(Boolean);
    const bad = items.filter(s => !allowed.includes(s));
    if (items.length === 0 || bad.length) throw new Error(`${option}: '${bad.join(",") || text}' is not a list of ${allowed.join(", ")}`);
    return items;
}

/** Runs a command to completion; returns its stdout, or throws with its last stderr lines. */
function run(label, command, args, { cwd = repoRoot, json = true } = {}) {
    console.error(`[${new Date().toISOString().slice(11, 19)}] ${label}: ${command} ${args.join(" ")}`);
    const r = spawnSync(command, args, { cwd, encoding: "utf8", maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "pipe"] });
    if (r.error) throw new Error(`${label}: cannot start ${command} (${r.error.code ?? r.error.message})`);
    if (r.status !== 0) {
        const tail = (r.stderr || r.stdout || "").trim().split("\n").slice(-3).join(" | ");
        throw new Error(`${label}: exit ${r.status}: ${tail}`);
    }
    if (!json) return r.stdout;
    const line = r.stdout.trim().split("\n").filter(l => l.startsWith("{")).at(-1);
    if (!line) throw new Error(`${label}: no JSON object on stdout`);
    return JSON.parse(line);
}

function ensureModel(dir, preset) {
    if (fs.existsSync(path.join(dir, "model.safetensors"))) return;
    run("create model", "bash", [path.join(here, "create-model.sh"), dir, preset], { json: false });
}

function ensureGguf(modelDir, file, type) {
    const source = fs.statSync(path.join(modelDir, "model.safetensors")).mtimeMs;
    if (fs.existsSync(file) && fs.statSync(file).mtimeMs >= source) return;
    if (!fs.existsSync(path.join(here, "node_modules", "@huggingface", "gguf")))
        throw new Error("GGUF conversion: tools/compare/node_modules is missing; run 'npm ci --omit=optional' in tools/compare");
    run(`convert to GGUF ${type}`, process.execPath, [path.join(here, "hf-to-gguf.mjs"), modelDir, file, "--type", type], { json: false });
}

let eagleDll = null;
function eagle(args) {
    if (!eagleDll) {
        run("build Eagle CLI (Release)", "dotnet", ["build", path.join(repoRoot, "src", "Eagle.Cli"), "-c", "Release", "-v", "quiet", "-nologo"], { json: false });
        eagleDll = path.join(repoRoot, "src", "Eagle.Cli", "bin", "Release", "net10.0", "eagle.dll");
        if (!fs.existsSync(eagleDll)) throw new Error(`Eagle CLI: ${eagleDll} not found after the build`);
    }
    return ["dotnet", [eagleDll, ...args]];
}

function measure(engine, dtype, o) {
    const common = ["--threads", String(o.threads), "--max-new-tokens", String(o.maxNew), "--runs", String(o.runs)];
    const load = os.loadavg()[0];
    let r;
    if (engine === "llama.cpp") {
        const file = `${o.modelDir}.${DTYPES[dtype].gguf}.gguf`;
        ensureGguf(o.modelDir, file, DTYPES[dtype].gguf);
        r = run(`llama.cpp ${dtype}`, process.execPath, [path.join(here, "llamacpp-bench.mjs"), "--model", file, "--prompt-ids", defaultPromptIds.join(","), ...common]);
    } else if (engine === "pytorch") {
        if (!fs.existsSync("/usr/bin/python3")) throw new Error("pytorch: /usr/bin/python3 not found (apt-get install python3-torch)");
        r = run(`pytorch ${dtype}`, "/usr/bin/python3", [path.join(here, "torch_bench.py"), "--model", o.modelDir, "--dtype", DTYPES[dtype].torch, "--prompt-ids", defaultPromptIds.join(","), ...common]);
    } else if (engine === "eagle-speculative") {
        // Each of --prompts random prompts of the shared length runs vanilla and then at once speculative; the row's
        // speed is the speculative side's decode tokens/s over all of them (not a best run, unlike the other rows).
        const [cmd, args] = eagle(["bench", "--model", o.modelDir, "--dtype", DTYPES[dtype].eagle, "--threads", String(o.threads),
            "--acceptance", String(o.acceptance), "--prompt-tokens", String(defaultPromptIds.length), "--limit", String(o.prompts),
            "--max-new-tokens", String(o.maxNew), "--json"]);
        const b = run(`eagle speculative ${dtype}`, cmd, args);
        r = {
            decode_ms_per_token: 1000 / b.speculative_tokens_per_s,
            acceptance: b.acceptance,
            mean_acceptance_length: b.mean_acceptance_length,
            eagle_vanilla_ms_per_token_same_run: 1000 / b.vanilla_tokens_per_s,
            speedup_over_eagle_vanilla: b.speedup,
            tree_sizes: b.tree_sizes,
            runtime: `Eagle.AI (TorchSharp), this checkout, Release; bench --acceptance ${o.acceptance}, ${o.prompts} prompts`,
        };
    } else {
        const [cmd, args] = eagle(["bench", "--model", o.modelDir, "--dtype", DTYPES[dtype].eagle, "--json", ...common]);
        r = run(`eagle ${dtype}`, cmd, args);
        // bench decodes a random prompt of the same length and prints no ids; the tokens come from one generate run
        const [gcmd, gargs] = eagle(["generate", "--model", o.modelDir, "--dtype", DTYPES[dtype].eagle, "--prompt-ids", defaultPromptIds.join(","),
            "--max-new-tokens", String(o.maxNew), "--json"]);
        r.output_ids = run(`eagle ${dtype} greedy ids`, gcmd, gargs).output_ids;
        r.runtime = "Eagle.AI (TorchSharp), this checkout, Release";
    }
    return { ...r, engine, dtype, load_average_before: Math.round(load * 100) / 100, load_average_after: Math.round(os.loadavg()[0] * 100) / 100 };
}

function agreement(ids, reference) {
    if (!ids || !reference) return "";
    let same = 0;
    while (same < Math.min(ids.length, reference.length) && ids[same] === reference[same]) same++;
    return `${same}/${reference.length}`;
}

function printTable(rows, errors) {
    const reference = rows.find(r => r.engine === "eagle" && r.dtype === "fp32")?.output_ids;
    const header = ["engine", "dtype", "ms/token", "tokens/s", "speed vs llama.cpp", "ms ÷ llama.cpp ms", "greedy ids = Eagle fp32", "load avg before→after"];
    const lines = rows.map(r => {
        const base = rows.find(x => x.engine === "llama.cpp" && x.dtype === r.dtype);
        const ratio = base ? (base.decode_ms_per_token / r.decode_ms_per_token).toFixed(2) + "×" : "n/a";
        const name = r.engine === "eagle-speculative" ? `${r.engine} (P ${r.acceptance}, τ ${r.mean_acceptance_length})` : r.engine;
        return [name, r.dtype, r.decode_ms_per_token.toFixed(1), (1000 / r.decode_ms_per_token).toFixed(2), ratio,
            base ? (r.decode_ms_per_token / base.decode_ms_per_token).toFixed(2) : "n/a", agreement(r.output_ids, reference) || "n/a",
            `${r.load_average_before}→${r.load_average_after}`];
    });
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map(l => String(l[i]).length)));
    const fmt = l => "| " + l.map((c, i) => String(c).padEnd(widths[i])).join(" | ") + " |";
    console.log(fmt(header));
    console.log("|" + widths.map(w => "-".repeat(w + 2)).join("|") + "|");
    for (const l of lines) console.log(fmt(l));
    for (const r of rows.filter(x => x.engine === "eagle-speculative"))
        console.log(`${r.engine} ${r.dtype}: ${r.speedup_over_eagle_vanilla}× Eagle's own vanilla decoding of the same prompts in that run ` +
            `(${r.eagle_vanilla_ms_per_token_same_run.toFixed(1)} ms/token); tree sizes ${JSON.stringify(r.tree_sizes)}`);
    for (const e of errors) console.log(`unavailable: ${e}`);
}

function main() {
    const a = parseArgs(process.argv.slice(2), ["preset", "dtypes", "engines", "acceptance", "prompts", "threads", "max-new-tokens", "runs", "dir", "json"], usage);
    const preset = a.preset ?? "llama3-1b";
    const dir = path.resolve(a.dir ?? path.join(repoRoot, ".cache", "compare"));
    const o = {
        threads: positiveInt(a.threads ?? "2", "--threads"),
        maxNew: positiveInt(a["max-new-tokens"] ?? "32", "--max-new-tokens"),
        runs: positiveInt(a.runs ?? "3", "--runs"),
        acceptance: Number(a.acceptance ?? "0.8"),
        prompts: positiveInt(a.prompts ?? "4", "--prompts"),
        modelDir: path.join(dir, `${preset}-bf16`),
    };
    if (!(o.acceptance >= 0 && o.acceptance <= 1)) throw new Error(`--acceptance: expected a number in [0, 1], got '${a.acceptance}'`);
    if (o.maxNew < 2) throw new Error("--max-new-tokens: at least 2 (the first token comes from the prefill)");
    const dtypes = list(a.dtypes ?? "bf16,fp32", Object.keys(DTYPES), "--dtypes");
    const engines = list(a.engines ?? ENGINES.join(","), ENGINES, "--engines");
    ensureModel(o.modelDir, preset);

    const rows = [], errors = [];
    for (const dtype of dtypes)
        for (const engine of engines) {
            try {
                rows.push(measure(engine, dtype, o));
            } catch (e) {
                errors.push(`${engine} ${dtype}: ${e.message}`);
                console.error(`FAILED ${engine} ${dtype}: ${e.message}`);
            }
        }
    console.log(`\n${preset} (random weights, ${o.modelDir}), ${o.threads} threads, greedy, ${defaultPromptIds.length}-token prompt, ` +
        `${o.maxNew} tokens, best of ${o.runs} runs; ${os.cpus()[0]?.model ?? "?"} × ${os.cpus().length}, ${new Date().toISOString().slice(0, 16)}Z`);
    printTable(rows, errors);
    if (a.json) fs.writeFileSync(a.json, JSON.stringify({ preset, ...o, date: new Date().toISOString(), cpu: os.cpus()[0]?.model, cores: os.cpus().length, rows, errors }, null, 2));
    if (errors.length) process.exitCode = 1;
}

try {
    main();
} catch (e) {
    console.error(`compare: ${e.message}`);
    process.exit(1);
}
