// Where ONNX Runtime runs a model: `cpu`, `cuda[:N]`, `dml[:N]` or `coreml`, as
// onnxruntime-node execution providers. A device the install cannot drive is found before
// any image is read, and the message says what to install, not where ONNX Runtime failed.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';

export const DEVICE_KINDS = ['cpu', 'cuda', 'dml', 'coreml'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

export interface Device {
  kind: DeviceKind;
  /** GPU ordinal for cuda and dml; 0 otherwise */
  index: number;
}

/** The device cannot be used here; `hint` says what would make it usable. */
export class DeviceUnavailable extends Error {
  constructor(
    readonly device: string,
    readonly reason: string,
    readonly hint: string,
  ) {
    super(`device ${device} is not available: ${reason}. ${hint}`);
    this.name = 'DeviceUnavailable';
  }
}

export const DEVICE_PATTERN = /^(cpu|cuda|dml|coreml)(?::(\d+))?$/;

export function parseDevice(spec: string): Device {
  const m = DEVICE_PATTERN.exec(spec);
  if (!m) throw new Error(`expected a device cpu, cuda[:N], dml[:N] or coreml, got "${spec}"`);
  const kind = m[1] as DeviceKind;
  const index = m[2] === undefined ? 0 : Number(m[2]);
  if (index !== 0 && (kind === 'cpu' || kind === 'coreml')) throw new Error(`${kind} takes no device index, got "${spec}"`);
  return { kind, index };
}

export function formatDevice(device: Device): string {
  return device.kind === 'cuda' || device.kind === 'dml' ? `${device.kind}:${device.index}` : device.kind;
}

/**
 * The providers in order of preference. CPU comes last on a GPU device because ONNX Runtime
 * places the operators a GPU provider lacks on the next provider listed, not because a
 * missing GPU may fall back: checkDevice refuses that earlier.
 */
export function executionProviders(device: Device): InferenceSession.ExecutionProviderConfig[] {
  switch (device.kind) {
    case 'cpu':
      return ['cpu'];
    case 'cuda':
      return [{ name: 'cuda', deviceId: device.index }, 'cpu'];
    case 'dml':
      return [{ name: 'dml', deviceId: device.index }, 'cpu'];
    case 'coreml':
      return ['coreml', 'cpu'];
  }
}

// npm 11 keeps an explicit `false` in allowScripts even through `install-scripts approve`
// ("is denied; remove the entry"), so the entry goes first. The env var, not an npm flag:
// npm warns that unknown flags stop reaching scripts in its next major version.
export const CUDA_INSTALL_HINT =
  'onnxruntime-node ships without its CUDA libraries; its install script downloads them (CUDA 12 and cuDNN 9 must be installed on the machine), ' +
  'and this project denies that script by default (package.json allowScripts). Allow it and run it: ' +
  '`npm pkg delete allowScripts.onnxruntime-node && npm install-scripts approve onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node`';

const PLATFORM_HINT: Record<'dml' | 'coreml', string> = {
  dml: 'DirectML comes with onnxruntime-node on Windows only; use cuda or cpu on this platform',
  coreml: 'CoreML comes with onnxruntime-node on macOS only; use cpu on this platform',
};

/** The folder of onnxruntime-node's native binding, where provider libraries must sit. */
export function bindingFolder(): string {
  const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
  return join(dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch);
}

/** The shared libraries the CUDA provider loads, named per platform. */
export function cudaLibraries(platform: NodeJS.Platform = process.platform): string[] {
  return platform === 'win32'
    ? ['onnxruntime_providers_shared.dll', 'onnxruntime_providers_cuda.dll']
    : ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];
}

export interface BackendInfo {
  name: string;
  bundled: boolean;
}

export interface DeviceProbe {
  /** onnxruntime-node's listSupportedBackends() */
  backends: BackendInfo[];
  /** where the binding looks for provider libraries */
  bindingDir: string;
  exists(path: string): boolean;
}

/**
 * onnxruntime-node, loaded with its telemetry off. On Linux, ONNX Runtime starts
 * Microsoft's 1DS telemetry with its first session, which leaves a `.ses` file and a
 * `mat-debug-<pid>.log` in the temp folder on every run (and would send events where it
 * finds a CA bundle); ORT_DISABLE_TELEMETRY, read at that moment, stops it. A value the
 * user set is kept.
 */
export async function loadOnnxRuntime(): Promise<typeof import('onnxruntime-node')> {
  process.env.ORT_DISABLE_TELEMETRY ??= '1';
  return import('onnxruntime-node');
}

export async function probeRuntime(): Promise<DeviceProbe> {
  const ort = await loadOnnxRuntime();
  return { backends: ort.listSupportedBackends(), bindingDir: bindingFolder(), exists: existsSync };
}

/**
 * Throws DeviceUnavailable when this onnxruntime-node build cannot drive the device. A CUDA
 * build lists `cuda` as not bundled; its libraries arrive only through the install script.
 */
export function checkDevice(device: Device, probe: DeviceProbe): void {
  if (device.kind === 'cpu') return;
  const name = formatDevice(device);
  const backend = probe.backends.find((b) => b.name === device.kind);
  if (!backend) {
    const hint = device.kind === 'cuda' ? 'onnxruntime-node has a CUDA build for Linux x64 and Windows x64 only' : PLATFORM_HINT[device.kind];
    throw new DeviceUnavailable(name, `this onnxruntime-node build (${process.platform}/${process.arch}) has no ${device.kind} provider`, hint);
  }
  if (device.kind !== 'cuda' || backend.bundled) return;
  const missing = cudaLibraries().filter((lib) => !probe.exists(join(probe.bindingDir, lib)));
  if (missing.length > 0) throw new DeviceUnavailable(name, `${missing.join(' and ')} missing from ${probe.bindingDir}`, CUDA_INSTALL_HINT);
}

/**
 * A session the provider failed to open although its libraries are present: no such GPU,
 * a CUDA or cuDNN runtime the provider cannot load, a driver too old.
 */
export function sessionFailure(device: Device, error: Error): DeviceUnavailable {
  const hint =
    device.kind === 'cuda'
      ? `check that GPU ${device.index} exists (nvidia-smi) and that the CUDA 12 and cuDNN 9 runtime libraries are on the library path`
      : `check that the GPU ${device.index} exists and its driver is current`;
  return new DeviceUnavailable(formatDevice(device), `ONNX Runtime could not open a session on it (${firstLine(error.message)})`, hint);
}

function firstLine(message: string): string {
  return message.split('\n')[0].trim();
}

export interface DeviceDefaults {
  batchSize: number;
  workers: number;
}

/**
 * Batch size and preprocessing workers when the params leave them unset. On a GPU a batch
 * costs little more than one image, so batches grow and decoding gets more threads to keep
 * the device fed; on the CPU the model and the decoders share the cores.
 */
export function deviceDefaults(device: Device, cores: number): DeviceDefaults {
  // The CPU figures are the ones the stage always had (bench/score.mjs measures them).
  if (device.kind === 'cpu') return { batchSize: 32, workers: 2 };
  return { batchSize: 128, workers: Math.max(1, Math.min(8, cores - 1)) };
}
