#!/usr/bin/env node
// Greedy decode speed of llama.cpp (the prebuilt CPU binary of node-llama-cpp) on one GGUF file.
//
//   node tools/compare/llamacpp-bench.mjs --model M.gguf [--threads 2] [--prompt-ids 1,2,3] [--max-new-tokens 32] [--runs 3]
//
// Prints one JSON object: decode_ms_per_token is the best run's time from the first generated token to the last,
// divided by the tokens after the first (the first one comes out of the prefill), the same definition as `eagle bench`.
import fs from "node:fs";
import { parseArgs, positiveInt, promptIds } from "./lib/args.mjs";

const usage = "llamacpp-bench.mjs --model M.gguf [--threads N] [--prompt-ids 1,2,3] [--max-new-tokens N] [--runs N]";

async function main() {
    const a = parseArgs(process.argv.slice(2), ["model", "threads", "prompt-ids", "max-new-tokens", "runs"], usage);
    if (!a.model) throw new Error(`--model is required; ${usage}`);
    if (!fs.existsSync(a.model)) throw new Error(`--model ${a.model}: file not found`);
    const threads = positiveInt(a.threads ?? "2", "--threads");
    const maxNew = positiveInt(a["max-new-tokens"] ?? "32", "--max-new-tokens");
    const runs = positiveInt(a.runs ?? "3", "--runs");
    if (maxNew < 2) throw new Error("--max-new-tokens: at least 2 (the first token comes from the prefill)");
    const prompt = promptIds(a["prompt-ids"]);

    let getLlama;
    try {
        ({ getLlama } = await import("node-llama-cpp"));
    } catch (e) {
        throw new Error(`node-llama-cpp is not installed (${e.code ?? e.message}): run 'npm ci --omit=optional' in tools/compare`);
    }
    // build: "never": use the prebuilt binary from @node-llama-cpp/linux-x64 or fail, never try to compile llama.cpp.
    const llama = await getLlama({ gpu: false, build: "never", maxThreads: threads, logLevel: process.env.COMPARE_LLAMA_LOG ?? "error" });
    const model = await llama.loadModel({ modelPath: a.model, gpuLayers: 0 });
    const context = await model.createContext({ contextSize: 512, threads: { ideal: threads, min: threads }, sequences: 1 });
    const sequence = context.getSequence();

    const decode = async n => {
        await sequence.clearHistory();
        const ids = [];
        let start = 0, first = 0;
        start = performance.now();
        // temperature 0 is greedy; EOG tokens are yielded and decoding goes on, as `eagle bench` decodes with no stop tokens.
        for await (const token of sequence.evaluate(prompt, { temperature: 0, yieldEogToken: true })) {
            if (ids.length === 0) first = performance.now();
            ids.push(token);
            if (ids.length === n) break;
        }
        const end = performance.now();
        return { ids, prefillMs: first - start, decodeMs: (end - first) / (n - 1) };
    };

    await decode(4); // warm-up: pages the weights in
    const results = [];
    for (let r = 0; r < runs; r++) results.push(await decode(maxNew));
    const best = results.reduce((b, x) => (x.decodeMs < b.decodeMs ? x : b));
    const report = {
        engine: "llama.cpp",
        runtime: `node-llama-cpp ${JSON.parse(fs.readFileSync(new URL("./node_modules/node-llama-cpp/package.json", import.meta.url), "utf8")).version} (${llama.buildType} llama.cpp)`,
        system_info: llama.systemInfo.trim(),
        model: a.model,
        threads,
        prompt_tokens: prompt.length,
        max_new_tokens: maxNew,
        runs,
        decode_ms_per_token: round(best.decodeMs),
        decode_ms_per_token_all_runs: results.map(x => round(x.decodeMs)),
        prefill_ms: round(Math.min(...results.map(x => x.prefillMs))),
        output_ids: best.ids,
    };
    await context.dispose();
    await model.dispose();
    await llama.dispose();
    console.log(JSON.stringify(report));
}

const round = x => Math.round(x * 100) / 100;

main().catch(e => {
    console.error(`llamacpp-bench: ${e.message}`);
    process.exit(1);
});
