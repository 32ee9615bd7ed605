#!/usr/bin/env python3
"""A stand-in for kohya-ss/sd-scripts train_network.py (and sdxl_train_network.py).

Accepts the real argument names (argparse rejects unknown ones, as sd-scripts does),
reads the dataset TOML, prints what sd-scripts prints (accelerator.print lines on
stdout, tqdm `steps:` redraws separated by `\\r` on stderr) and writes
<output_dir>/<output_name>.safetensors with small lora_up/lora_down tensors and ss_*
metadata (with --save_every_n_epochs N, also <output_name>-<epoch:06d>.safetensors after
every N-th epoch but the last, as sd-scripts names them). No torch, no GPU: it trains nothing.

Switches (environment):
  SDLOOP_STANDIN_MODE=fail   exit 1 at start-up with a traceback (a bad model path)
  SDLOOP_STANDIN_MODE=crash  die half way with a CUDA out-of-memory traceback
  SDLOOP_STANDIN_MODE=hang   stop half way and sleep, with a child process that sleeps too
  SDLOOP_STANDIN_MODE=corrupt  exit 0 after writing a truncated .safetensors (a full disk)
  SDLOOP_STANDIN_CHILD_PID_FILE  where `hang` writes its child's pid
  SDLOOP_STANDIN_STEP_S      seconds per step (default 0.001)

The training flags are checked as sd-scripts would use them: an unknown --optimizer_type
fails at start-up, --sdpa with --xformers fails, and what took effect (the resolution from
the dataset TOML, else --resolution; optimizer; precision; caching; checkpointing;
attention) is written into the metadata, with a warning for SDXL below 1024 px or in fp16.
"""
import argparse
import hashlib
import json
import math
import os
import struct
import subprocess
import sys
import time
import tomllib

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def parse_args(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--pretrained_model_name_or_path", required=True)
    p.add_argument("--dataset_config", required=True)
    p.add_argument("--output_dir", required=True)
    p.add_argument("--output_name", required=True)
    p.add_argument("--save_model_as", choices=["ckpt", "pt", "safetensors"], default="safetensors")
    p.add_argument("--network_module", required=True)
    p.add_argument("--network_dim", type=int, default=4)
    p.add_argument("--network_alpha", type=float, default=1)
    p.add_argument("--network_args", nargs="*")
    p.add_argument("--learning_rate", type=float, default=2e-6)
    p.add_argument("--unet_lr", type=float)
    p.add_argument("--text_encoder_lr", type=float)
    p.add_argument("--max_train_epochs", type=int)
    p.add_argument("--max_train_steps", type=int, default=1600)
    p.add_argument("--resolution")
    p.add_argument("--mixed_precision", choices=["no", "fp16", "bf16"], default="no")
    p.add_argument("--save_precision", choices=["float", "fp16", "bf16"])
    p.add_argument("--train_batch_size", type=int, default=1)
    p.add_argument("--optimizer_type", default="")
    p.add_argument("--lr_scheduler", default="constant")
    p.add_argument("--seed", type=int)
    p.add_argument("--save_every_n_epochs", type=int)
    p.add_argument("--gradient_checkpointing", action="store_true")
    p.add_argument("--cache_latents", action="store_true")
    p.add_argument("--xformers", action="store_true")
    p.add_argument("--sdpa", action="store_true")
    p.add_argument("--network_train_unet_only", action="store_true")
    return p.parse_args(argv)


OPTIMIZERS = {
    "adamw": "torch.optim.adamw.AdamW",
    "adamw8bit": "bitsandbytes.optim.adamw.AdamW8bit",
    "pagedadamw8bit": "bitsandbytes.optim.adamw.PagedAdamW8bit",
    "lion": "lion_pytorch.lion_pytorch.Lion",
    "lion8bit": "bitsandbytes.optim.lion.Lion8bit",
    "prodigy": "prodigyopt.prodigy.Prodigy",
    "adafactor": "transformers.optimization.Adafactor",
    "sgdnesterov": "torch.optim.sgd.SGD",
}


def check_flags(args, sdxl, dataset_resolution):
    """What sd-scripts would refuse or warn about; returns the metadata the flags leave."""
    name = (args.optimizer_type or "AdamW").lower()
    if name not in OPTIMIZERS and "." not in name:
        print("Traceback (most recent call last):", file=sys.stderr)
        print(f"ValueError: unknown optimizer type: {args.optimizer_type}", file=sys.stderr)
        sys.exit(1)
    if args.sdpa and args.xformers:
        print("ValueError: --xformers and --sdpa cannot be used together", file=sys.stderr)
        sys.exit(1)
    resolution = dataset_resolution or [int(v) for v in (args.resolution or "512").split(",")]
    if len(resolution) == 1:
        resolution = resolution * 2
    if sdxl and min(resolution) < 1024:
        print(f"WARNING: SDXL is trained at 1024x1024; resolution {resolution[0]}x{resolution[1]} gives poor results", flush=True)
    if sdxl and args.mixed_precision == "fp16":
        print("WARNING: SDXL's VAE overflows in fp16: use bf16", flush=True)
    return {
        "ss_resolution": f"({resolution[0]}, {resolution[1]})",
        "ss_optimizer": OPTIMIZERS.get(name, args.optimizer_type),
        "ss_mixed_precision": args.mixed_precision,
        "ss_cache_latents": str(bool(args.cache_latents)),
        "ss_gradient_checkpointing": str(bool(args.gradient_checkpointing)),
        "sdloop_standin_attention": "sdpa" if args.sdpa else "xformers" if args.xformers else "none",
    }


def read_subsets(config_path):
    with open(config_path, "rb") as f:
        config = tomllib.load(f)
    subsets = []
    resolution = config.get("general", {}).get("resolution")
    for dataset in config.get("datasets", []):
        resolution = dataset.get("resolution", resolution)
        batch_size = dataset.get("batch_size", 1)
        for subset in dataset.get("subsets", []):
            image_dir = subset["image_dir"]
            images = sorted(n for n in os.listdir(image_dir) if n.lower().endswith(IMAGE_EXTENSIONS))
            subsets.append({"dir": image_dir, "repeats": subset.get("num_repeats", 1), "images": images, "batch_size": batch_size})
    caption_extension = config.get("general", {}).get("caption_extension", ".caption")
    if isinstance(resolution, int):
        resolution = [resolution, resolution]
    return subsets, caption_extension, resolution


def tag_frequency(subsets, caption_extension):
    frequency = {}
    for s in subsets:
        tags = {}
        for image in s["images"]:
            caption = os.path.join(s["dir"], os.path.splitext(image)[0] + caption_extension)
            if not os.path.exists(caption):
                continue
            with open(caption, encoding="utf-8") as f:
                for tag in f.read().split(","):
                    tag = tag.strip()
                    if tag:
                        tags[tag] = tags.get(tag, 0) + 1
        frequency[os.path.basename(s["dir"])] = tags
    return frequency


def serialize_safetensors(tensors, metadata):
    """The bytes safetensors.torch.save writes: compact JSON header, tensors by name (all F32 here), padded to 8."""
    header = {"__metadata__": metadata}
    data = b""
    for name, (shape, values) in sorted(tensors.items()):
        raw = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def precalculate_safetensors_hashes(tensors, metadata):
    """As sd-scripts' library/train_util.py: both hashes over the file with only the ss_* metadata."""
    b = serialize_safetensors(tensors, {k: v for k, v in metadata.items() if k.startswith("ss_")})
    n = struct.unpack("<Q", b[:8])[0]
    model_hash = hashlib.sha256(b[8 + n:]).hexdigest()
    legacy_hash = hashlib.sha256(b[0x100000:0x110000]).hexdigest()[0:8]
    return model_hash, legacy_hash


def save_lora(path, args, base, epoch, steps):
    """One saved file: the tensors scaled by how far training got, the ss_* keys of that moment."""
    dim = args.network_dim
    module = "lora_unet_down_blocks_0_attentions_0_proj_in"
    tensors = {
        f"{module}.alpha": ([], [float(args.network_alpha)]),
        f"{module}.lora_down.weight": ([dim, 8], [0.01 * (i % 7) * epoch / int(base["ss_num_epochs"]) for i in range(dim * 8)]),
        f"{module}.lora_up.weight": ([8, dim], [0.0] * (8 * dim)),
    }
    metadata = {**base, "ss_epoch": str(epoch), "ss_steps": str(steps), "ss_training_finished_at": str(int(time.time()))}
    metadata["sshs_model_hash"], metadata["sshs_legacy_hash"] = precalculate_safetensors_hashes(tensors, metadata)
    with open(path, "wb") as f:
        f.write(serialize_safetensors(tensors, metadata))


def main():
    args = parse_args(sys.argv[1:])
    mode = os.environ.get("SDLOOP_STANDIN_MODE", "")
    step_s = float(os.environ.get("SDLOOP_STANDIN_STEP_S", "0.001"))
    if mode == "fail":
        print("Traceback (most recent call last):", file=sys.stderr)
        print(f"OSError: Error no file named diffusion_pytorch_model.bin found in directory {args.pretrained_model_name_or_path}.", file=sys.stderr)
        sys.exit(1)

    subsets, caption_extension, dataset_resolution = read_subsets(args.dataset_config)
    sdxl = "sdxl" in os.path.basename(sys.argv[0])
    flags = check_flags(args, sdxl, dataset_resolution)
    num_train_images = sum(len(s["images"]) * s["repeats"] for s in subsets)
    batch_size = subsets[0]["batch_size"] if subsets else 1
    steps_per_epoch = max(1, math.ceil(num_train_images / batch_size))
    if args.max_train_epochs is not None:
        total = steps_per_epoch * args.max_train_epochs
    else:
        total = args.max_train_steps
    epochs = math.ceil(total / steps_per_epoch)
    print(f"  num train images * repeats / 学習画像の数×繰り返し回数: {num_train_images}", flush=True)
    print(f"  num epochs / epoch数: {epochs}", flush=True)
    print(f"  total optimization steps / 学習ステップ数: {total}", flush=True)

    started = int(time.time())
    step = 0
    for epoch in range(epochs):
        print(f"\nepoch {epoch + 1}/{epochs}", flush=True)
        for _ in range(min(steps_per_epoch, total - step)):
            step += 1
            if step == total // 2 and mode == "crash":
                sys.stderr.write("\nTraceback (most recent call last):\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB\n")
                sys.stderr.flush()
                os._exit(1)
            if step == total // 2 and mode == "hang":
                child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
                pid_file = os.environ.get("SDLOOP_STANDIN_CHILD_PID_FILE")
                if pid_file:
                    with open(pid_file, "w") as f:
                        f.write(str(child.pid))
                time.sleep(3600)
            time.sleep(step_s)
            pct = step * 100 // total
            bar = "█" * (pct // 10)
            loss = 0.1 / (1 + step / 50)
            sys.stderr.write(f"\rsteps: {pct:3d}%|{bar:<10}| {step}/{total} [00:01<00:02, {1 / max(step_s, 1e-3):.2f}it/s, avr_loss={loss:.4g}]")
            sys.stderr.flush()
    sys.stderr.write("\n")

    os.makedirs(args.output_dir, exist_ok=True)
    path = os.path.join(args.output_dir, args.output_name + "." + args.save_model_as)
    base = {
        "ss_output_name": args.output_name,
        "ss_network_module": args.network_module,
        "ss_network_dim": str(args.network_dim),
        "ss_network_alpha": str(args.network_alpha),
        "ss_learning_rate": str(args.learning_rate),
        "ss_num_train_images": str(num_train_images),
        "ss_num_epochs": str(epochs),
        "ss_sd_model_name": os.path.basename(args.pretrained_model_name_or_path),
        "ss_base_model_version": "sdxl_base_v1-0" if sdxl else "sd_v1",
        "ss_tag_frequency": json.dumps(tag_frequency(subsets, caption_extension)),
        "ss_dataset_dirs": json.dumps({os.path.basename(s["dir"]): {"n_repeats": s["repeats"], "img_count": len(s["images"])} for s in subsets}),
        "ss_training_started_at": str(started),
        **flags,
        "sdloop_standin": "true",
    }
    # As train_network.py: after every N-th epoch but the last, <name>-<epoch:06d>; at the end, <name>.
    for epoch in range(args.save_every_n_epochs or epochs, epochs, args.save_every_n_epochs or epochs):
        epoch_path = os.path.join(args.output_dir, "%s-%06d.%s" % (args.output_name, epoch, args.save_model_as))
        save_lora(epoch_path, args, base, epoch, min(total, steps_per_epoch * epoch))
    print(f"\nsaving checkpoint: {path}", flush=True)
    save_lora(path, args, base, epochs, total)
    if mode == "corrupt":
        os.truncate(path, os.path.getsize(path) - 16)
    print("model saved.", flush=True)


if __name__ == "__main__":
    main()
