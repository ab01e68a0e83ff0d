// Reads Hugging Face safetensors checkpoints (one model.safetensors or shards + model.safetensors.index.json) without
// loading them whole: the converter streams one tensor at a time, so a 1B model never sits in memory twice.
import fs from "node:fs";
import path from "node:path";

const elementSize = { F32: 4, BF16: 2, F16: 2 };

/** The tensors of one checkpoint folder: name → {file, dtype, shape, begin, end} (absolute byte offsets). */
export function openCheckpoint(folder) {
    const index = path.join(folder, "model.safetensors.index.json");
    const single = path.join(folder, "model.safetensors");
    let files;
    if (fs.existsSync(index)) files = [...new Set(Object.values(JSON.parse(fs.readFileSync(index, "utf8")).weight_map))].map(f => path.join(folder, f));
    else if (fs.existsSync(single)) files = [single];
    else throw new Error(`${folder}: neither model.safetensors nor model.safetensors.index.json found`);
    const tensors = new Map();
    for (const file of files) {
        const fd = fs.openSync(file, "r");
        try {
            const lengthBytes = Buffer.alloc(8);
            fs.readSync(fd, lengthBytes, 0, 8, 0);
            const headerLength = Number(lengthBytes.readBigUInt64LE(0));
            const headerBytes = Buffer.alloc(headerLength);
            fs.readSync(fd, headerBytes, 0, headerLength, 8);
            const header = JSON.parse(headerBytes.toString("utf8"));
            for (const [name, t] of Object.entries(header)) {
                if (name === "__metadata__") continue;
                if (!(t.dtype in elementSize)) throw new Error(`${file}: tensor ${name} has dtype ${t.dtype}; expected one of ${Object.keys(elementSize).join(", ")}`);
                const [begin, end] = t.data_offsets;
                const expected = t.shape.reduce((a, b) => a * b, 1) * elementSize[t.dtype];
                if (end - begin !== expected) throw new Error(`${file}: tensor ${name} spans ${end - begin} bytes, its shape ${JSON.stringify(t.shape)} needs ${expected}`);
                tensors.set(name, { file, dtype: t.dtype, shape: t.shape, begin: 8 + headerLength + begin, end: 8 + headerLength + end });
            }
        } finally {
            fs.closeSync(fd);
        }
    }
    return tensors;
}

/** The raw little-endian bytes of rows [row0, row0 + rows) of a tensor (a row is its last dimension; a 1-D tensor is one row). */
export function readRows(tensor, row0, rows) {
    const rowBytes = tensor.shape.at(-1) * elementSize[tensor.dtype];
    const out = Buffer.alloc(rows * rowBytes);
    const fd = fs.openSync(tensor.file, "r");
    try {
        let done = 0;
        while (done < out.length) {
            const n = fs.readSync(fd, out, done, out.length - done, tensor.begin + row0 * rowBytes + done);
            if (n === 0) throw new Error(`${tensor.file}: file ends inside a tensor`);
            done += n;
        }
    } finally {
        fs.closeSync(fd);
    }
    return out;
}

/** Widens BF16 / F16 / F32 bytes to a Float32Array. */
export function toFloat32(bytes, dtype) {
    const n = bytes.length / elementSize[dtype];
    if (dtype === "F32") return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    const out = new Float32Array(n);
    if (dtype === "BF16") {
        // bf16 is the high half of an fp32: shift it back into place.
        const src = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
        const bits = new Uint32Array(out.buffer);
        for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
        return out;
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
    return out;
}

function halfToFloat(h) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) return sign * mantissa * 2 ** -24;
    if (exponent === 31) return mantissa ? NaN : sign * Infinity;
    return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
