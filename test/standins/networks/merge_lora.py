#!/usr/bin/env python3
"""A stand-in for kohya-ss/sd-scripts networks/merge_lora.py (and sdxl_merge_lora.py).

Accepts the real argument names (argparse rejects unknown ones), logs what the real
script logs (loading SD model, loading: <lora>, merging..., saving SD model to) and does
the real arithmetic on a small checkpoint: for every LoRA module, W <- W + ratio x
(up @ down) x alpha / dim. No torch: the base checkpoint's tensors are named after the
LoRA modules (<module>.weight; F32, F16 or BF16) instead of the diffusers/LDM keys sd-scripts maps
them to; a LoRA module with no such tensor is logged and skipped, as the real one does.
The output is a real .safetensors in --save_precision, with modelspec metadata.

Switches (environment):
  SDLOOP_STANDIN_MODE=corrupt  exit 0 after writing a truncated checkpoint (a full disk)
"""
import argparse
import json
import os
import struct
import sys

SDXL = "sdxl" in os.path.basename(sys.argv[0])


def parse_args(argv):
    p = argparse.ArgumentParser()
    if not SDXL:
        p.add_argument("--v2", action="store_true")
    p.add_argument("--save_precision", type=str, default=None, choices=[None, "float", "fp16", "bf16"])
    p.add_argument("--precision", type=str, default="float", choices=["float", "fp16", "bf16"])
    p.add_argument("--sd_model", type=str, default=None)
    p.add_argument("--save_to", type=str, default=None)
    p.add_argument("--models", type=str, nargs="*")
    p.add_argument("--ratios", type=float, nargs="*")
    if SDXL:
        p.add_argument("--lbws", type=str, nargs="*")
    p.add_argument("--no_metadata", action="store_true")
    p.add_argument("--concat", action="store_true")
    p.add_argument("--shuffle", action="store_true")
    return p.parse_args(argv)


def log(message):
    # sd-scripts' rich logging handler writes to stderr.
    print(f"INFO     {message}", file=sys.stderr, flush=True)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        tensors[name] = (entry["shape"], decode(raw[8 + n + begin:8 + n + end], entry["dtype"]))
    return tensors, metadata


def decode(data, dtype):
    if dtype == "F32":
        return list(struct.unpack("<%df" % (len(data) // 4), data))
    if dtype == "F16":
        return list(struct.unpack("<%de" % (len(data) // 2), data))
    if dtype == "BF16":
        return [struct.unpack("<f", b"\0\0" + data[i:i + 2])[0] for i in range(0, len(data), 2)]
    raise SystemExit(f"stand-in reads F32, F16 and BF16 tensors; found {dtype}")


def encode(values, precision):
    if precision == "fp16":
        return "F16", struct.pack("<%de" % len(values), *values)
    if precision == "bf16":
        return "BF16", b"".join(struct.pack("<I", struct.unpack("<I", struct.pack("<f", v))[0])[2:] for v in values)
    return "F32", struct.pack("<%df" % len(values), *values)


def write_safetensors(path, tensors, metadata, precision):
    header = {"__metadata__": metadata} if metadata else {}
    data = b""
    for name, (shape, values) in sorted(tensors.items()):
        dtype, raw = encode(values, precision)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def merge_lora(base, lora, ratio):
    for key, (down_shape, down) in lora.items():
        if "lora_down" not in key:
            continue
        module = key[: key.index(".lora_down")]
        target = module + ".weight"
        if target not in base:
            log(f"no module found for LoRA weight: {key}")
            continue
        up_shape, up = lora[key.replace("lora_down", "lora_up")]
        dim, n_in = down_shape
        n_out = up_shape[0]
        alpha = lora.get(module + ".alpha", ([], [dim]))[1][0]
        scale = alpha / dim
        shape, weight = base[target]
        if shape != [n_out, n_in]:
            raise SystemExit(f"RuntimeError: {target} is {shape}, the LoRA gives [{n_out}, {n_in}]")
        for o in range(n_out):
            for i in range(n_in):
                weight[o * n_in + i] += ratio * scale * sum(up[o * dim + r] * down[r * n_in + i] for r in range(dim))


def main():
    args = parse_args(sys.argv[1:])
    assert len(args.models) == len(args.ratios), "number of models must be equal to number of ratios / モデルの数と重みの数は合わせてください"
    log(f"loading SD model: {args.sd_model}")
    base, _ = read_safetensors(args.sd_model)
    for model, ratio in zip(args.models, args.ratios):
        log(f"loading: {model}")
        lora, _ = read_safetensors(model)
        log("merging...")
        merge_lora(base, lora, ratio)
    metadata = None if args.no_metadata else {
        "modelspec.title": os.path.splitext(os.path.basename(args.save_to))[0],
        "modelspec.merged_from": ", ".join(os.path.splitext(os.path.basename(m))[0] for m in [args.sd_model] + args.models),
        "modelspec.architecture": "stable-diffusion-xl-v1-base" if SDXL else "stable-diffusion-v1",
        "sdloop_standin": "true",
    }
    log(f"saving SD model to: {args.save_to}")
    write_safetensors(args.save_to, base, metadata, args.save_precision or args.precision)
    if os.environ.get("SDLOOP_STANDIN_MODE") == "corrupt":
        os.truncate(args.save_to, os.path.getsize(args.save_to) - 16)


if __name__ == "__main__":
    main()
