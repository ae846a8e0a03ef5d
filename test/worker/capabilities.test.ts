import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectCapabilities, LabelError, parseLabels, reservedLabelKeys } from '../../src/worker/capabilities.js';

describe('capabilities', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'testudo-caps-'));
  });
  afterEach(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('detects os, arch, node, cpus, memory and tools on PATH', () => {
    writeFileSync(path.join(tmp, 'mytool'), '#!/bin/sh\n');
    chmodSync(path.join(tmp, 'mytool'), 0o755);
    writeFileSync(path.join(tmp, 'notexec'), '');
    const caps = detectCapabilities({
      labels: { region: 'eu-west-1' },
      tools: ['mytool', 'notexec', 'surely-not-a-tool', '../sh'],
      path: `${tmp}${path.delimiter}/bin${path.delimiter}/usr/bin`,
    });
    expect(caps.labels).toEqual({ arch: process.arch, node: process.versions.node, os: process.platform, region: 'eu-west-1' });
    expect(caps.cpus).toBeGreaterThanOrEqual(1);
    expect(caps.memoryMb).toBeGreaterThan(0);
    expect(caps.tools).toContain('mytool');
    expect(caps.tools).toContain('sh');
    expect(caps.tools).not.toContain('notexec');
    expect(caps.tools).not.toContain('surely-not-a-tool');
    expect(caps.tools).not.toContain('../sh');
    expect([...caps.tools].sort()).toEqual(caps.tools);
  });

  it('sets os from the platform by default', () => {
    const caps = detectCapabilities({ labels: {} });
    expect(caps.labels['os']).toBe(process.platform);
    expect(caps.tools).toContain('node');
  });

  it('parses labels with clear errors', () => {
    expect(parseLabels('region=eu-west-1, browser=chromium')).toEqual({ region: 'eu-west-1', browser: 'chromium' });
    expect(parseLabels('')).toEqual({});
    expect(parseLabels('k8s.io/zone=a=b')).toEqual({ 'k8s.io/zone': 'a=b' });
    expect(parseLabels('empty=')).toEqual({ empty: '' });
    expect(() => parseLabels('region')).toThrow(/label 1 \("region"\) has no '='/);
    expect(() => parseLabels('a=1,,b=2')).toThrow(/label 2 .* is empty/);
    expect(() => parseLabels('Region=x')).toThrow(/key must be 1 to 63 characters/);
    expect(() => parseLabels(`${'k'.repeat(64)}=x`)).toThrow(LabelError);
    expect(() => parseLabels(`k=${'v'.repeat(257)}`)).toThrow(/257 characters, over the limit of 256/);
    expect(() => parseLabels('a=1,a=2')).toThrow(/repeats the key "a"/);
    expect(() => detectCapabilities({ labels: { 'bad key': 'x' } })).toThrow(LabelError);
  });

  it('refuses every reserved key: a detected label is never overridden', () => {
    const other = process.platform === 'linux' ? 'windows' : 'linux';
    expect(() => parseLabels(`region=eu,os=${other}`)).toThrow(new RegExp(`label 2 \\("os=${other}"\\): "os" is detected \\(os=${process.platform} on this machine\\) and cannot be set`));
    expect(() => parseLabels(`arch=${process.arch}`)).toThrow(/"arch" is detected/);
    expect(() => parseLabels('node=1')).toThrow(/"node" is detected/);
    for (const key of ['cpus', 'memory', 'memorymb', 'tools']) expect(() => parseLabels(`${key}=64`), key).toThrow(/names a measured capability/);
    expect(reservedLabelKeys).toEqual(['os', 'arch', 'node', 'cpus', 'memory', 'memorymb', 'tools']);
    // Set programmatically, the detected value still cannot be replaced.
    expect(() => detectCapabilities({ labels: { os: other } })).toThrow(LabelError);
    // Look-alike keys are ordinary labels.
    expect(parseLabels('os-version=22.04,target-arch=arm64')).toEqual({ 'os-version': '22.04', 'target-arch': 'arm64' });
  });
});
