// Command-line parsing shared by the compare scripts: --name value pairs, checked against the options a script knows.

/** "--a 1 --b x" → { a: "1", b: "x" }; an unknown option or a missing value is an error naming it and the usage. */
export function parseArgs(argv, known, usage) {
    const out = {};
    for (let i = 0; i < argv.length; i++) {
        const name = argv[i].startsWith("--") ? argv[i].slice(2) : null;
        if (name === null || !known.includes(name)) throw new Error(`unknown argument ${argv[i]}; usage: ${usage}`);
        if (i + 1 >= argv.length) throw new Error(`--${name} needs a value; usage: ${usage}`);
        out[name] = argv[++i];
    }
    return out;
}

/** A whole number ≥ 1, or an error naming the option. */
export function positiveInt(text, option) {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${option}: expected a whole number ≥ 1, got '${text}'`);
    return n;
}

/** The 16 prompt ids every engine decodes after (any ids do; only their count matters for speed). */
export const defaultPromptIds = [128000, 9906, 1917, 11, 358, 1097, 264, 4382, 1646, 430, 374, 1618, 311, 1518, 1268, 5043];

/** "1,2,3" → [1, 2, 3] (ids in the LLaMA-3 vocabulary), or the default prompt. */
export function promptIds(text) {
    if (text === undefined) return defaultPromptIds;
    const ids = text.split(",").map(s => Number(s.trim()));
    if (ids.length === 0 || ids.some(id => !Number.isInteger(id) || id < 0 || id >= 128256))
        throw new Error(`--prompt-ids: expected comma-separated token ids in [0, 128256), got '${text}'`);
    return ids;
}
