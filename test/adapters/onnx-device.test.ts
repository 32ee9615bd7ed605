import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkDevice, cudaLibraries, DeviceUnavailable, deviceDefaults, executionProviders, parseDevice, probeRuntime, type DeviceProbe,
} from '../../adapters/onnx-device.js';
import { loadClipModel } from '../../adapters/clip-onnx.js';
import { writeDemoModel } from '../../demo/clip-model.js';

const probe = (backends: [string, boolean][], present: string[] = []): DeviceProbe => ({
  backends: backends.map(([name, bundled]) => ({ name, bundled })),
  bindingDir: '/ort/bin',
  exists: (path) => present.includes(path),
});
const linuxBuild: [string, boolean][] = [['cpu', true], ['webgpu', true], ['cuda', false], ['tensorrt', false]];

describe('device specs', () => {
  it('parses a kind and an optional GPU index', () => {
    expect(parseDevice('cpu')).toEqual({ kind: 'cpu', index: 0 });
    expect(parseDevice('cuda')).toEqual({ kind: 'cuda', index: 0 });
    expect(parseDevice('cuda:1')).toEqual({ kind: 'cuda', index: 1 });
    expect(parseDevice('dml:2')).toEqual({ kind: 'dml', index: 2 });
    expect(() => parseDevice('gpu')).toThrow(/expected a device/);
    expect(() => parseDevice('cpu:1')).toThrow(/takes no device index/);
  });

  it('asks onnxruntime-node for the provider on the chosen GPU, CPU after it for the operators a GPU lacks', () => {
    expect(executionProviders(parseDevice('cpu'))).toEqual(['cpu']);
    expect(executionProviders(parseDevice('cuda:1'))).toEqual([{ name: 'cuda', deviceId: 1 }, 'cpu']);
    expect(executionProviders(parseDevice('dml'))).toEqual([{ name: 'dml', deviceId: 0 }, 'cpu']);
    expect(executionProviders(parseDevice('coreml'))).toEqual(['coreml', 'cpu']);
  });

  it('gives a GPU larger batches and more decoding workers than the CPU', () => {
    expect(deviceDefaults(parseDevice('cpu'), 16)).toEqual({ batchSize: 32, workers: 2 });
    expect(deviceDefaults(parseDevice('cuda'), 16)).toEqual({ batchSize: 128, workers: 8 });
    expect(deviceDefaults(parseDevice('cuda'), 2)).toEqual({ batchSize: 128, workers: 1 });
  });
});

describe('checking a device before any image', () => {
  it('accepts the CPU and a CUDA build whose provider libraries are installed', () => {
    expect(() => checkDevice(parseDevice('cpu'), probe([['cpu', true]]))).not.toThrow();
    const installed = cudaLibraries().map((lib) => join('/ort/bin', lib));
    expect(() => checkDevice(parseDevice('cuda:1'), probe(linuxBuild, installed))).not.toThrow();
  });

  it('says how to install the CUDA libraries when the install script has not fetched them', () => {
    const err = (() => {
      try {
        checkDevice(parseDevice('cuda'), probe(linuxBuild));
      } catch (e) {
        return e as DeviceUnavailable;
      }
    })();
    expect(err).toBeInstanceOf(DeviceUnavailable);
    expect(err!.message).toMatch(/^device cuda:0 is not available: .*libonnxruntime_providers_cuda\.so missing from \/ort\/bin/);
    expect(err!.hint).toContain('npm pkg delete allowScripts.onnxruntime-node && npm install-scripts approve onnxruntime-node');
    expect(err!.hint).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node');
  });

  it('names the platform that has DirectML or CoreML when this build lacks it', () => {
    expect(() => checkDevice(parseDevice('dml'), probe(linuxBuild))).toThrow(/DirectML comes with onnxruntime-node on Windows only/);
    expect(() => checkDevice(parseDevice('coreml'), probe(linuxBuild))).toThrow(/CoreML comes with onnxruntime-node on macOS only/);
  });
});

describe('this machine (onnxruntime-node without its CUDA libraries)', () => {
  let demoDir: string;
  beforeAll(async () => {
    demoDir = join(mkdtempSync(join(tmpdir(), 'sdloop-device-')), 'clip-demo');
    await writeDemoModel(demoDir);
  });

  it('lists cuda as not bundled, and the check finds its libraries missing', async () => {
    const runtime = await probeRuntime();
    expect(runtime.backends.map((b) => b.name)).toContain('cpu');
    if (process.platform === 'linux' && process.arch === 'x64') {
      expect(runtime.backends.find((b) => b.name === 'cuda')).toEqual({ name: 'cuda', bundled: false });
    }
    expect(() => checkDevice(parseDevice('cuda'), runtime)).toThrow(DeviceUnavailable);
  });

  it('refuses a CUDA model load with the install hint, and loads on the CPU', async () => {
    await expect(loadClipModel(demoDir, { device: parseDevice('cuda:1') })).rejects.toThrow(/npm install-scripts approve onnxruntime-node/);
    const model = await loadClipModel(demoDir, { device: parseDevice('cpu'), threads: 1 });
    expect(model.device).toBe('cpu');
    await model.close();
  });
});
