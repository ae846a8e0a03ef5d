import { isDeepStrictEqual } from 'node:util';

import { loadSync, type MessageTypeDefinition, type PackageDefinition, type ServiceDefinition } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';

import { protoLoaderOptions, protoPath } from '../../src/common/protos.js';
import { testudoPackageDefinition, testudoProtoRoot, testudoServices } from '../../src/common/testudo-proto.js';

function isMessage(value: PackageDefinition[string]): value is MessageTypeDefinition<object, object> {
  return 'format' in value;
}

/** Names of the entries of `built` that differ from proto-loader's own parse of the file. */
function differences(built: PackageDefinition, reference: PackageDefinition): string[] {
  const out: string[] = [];
  for (const [name, expected] of Object.entries(reference)) {
    const actual = built[name];
    if (actual === undefined) {
      out.push(`${name}: missing`);
    } else if (isMessage(expected)) {
      // fileDescriptorProtos: what the coordinator's reflection service serves.
      const same = isMessage(actual) && isDeepStrictEqual(actual.type, expected.type) && isDeepStrictEqual(actual.fileDescriptorProtos, expected.fileDescriptorProtos);
      if (!same) out.push(`${name}: descriptor`);
    } else if (isMessage(actual)) {
      out.push(`${name}: kind`);
    } else {
      // Not a message or enum: a service, method name -> definition.
      if (!isDeepStrictEqual(Object.keys(actual), Object.keys(expected))) out.push(`${name}: methods`);
      for (const [method, m] of Object.entries(expected as ServiceDefinition)) {
        const a = (actual as ServiceDefinition)[method];
        const same = a !== undefined && a.path === m.path && a.requestStream === m.requestStream && a.responseStream === m.responseStream;
        if (!same || !isDeepStrictEqual(a.requestType.type, m.requestType.type) || !isDeepStrictEqual(a.responseType.type, m.responseType.type)) {
          out.push(`${name}.${method}`);
        }
      }
    }
  }
  for (const name of Object.keys(built)) if (!(name in reference)) out.push(`${name}: extra`);
  return out;
}

describe('testudo.proto, loaded once', () => {
  const reference = loadSync(protoPath('testudo.proto'), protoLoaderOptions);

  it('hands every caller the same objects', () => {
    expect(testudoProtoRoot()).toBe(testudoProtoRoot());
    expect(testudoPackageDefinition()).toBe(testudoPackageDefinition());
    expect(testudoServices()).toBe(testudoServices());
    const services = testudoServices();
    for (const service of [services.Kv, services.Cluster, services.Runs, services.Worker]) expect(typeof service.service).toBe('object');
  });

  it('builds the same gRPC definition as proto-loader parsing the file itself', () => {
    expect(Object.keys(reference).length).toBeGreaterThan(10);
    expect(differences(testudoPackageDefinition(), reference)).toEqual([]);
  });

  it('encodes a request to the same bytes either way', () => {
    const put = (testudoPackageDefinition()['testudo.v1.Kv'] as ServiceDefinition)['Put'];
    const expected = (reference['testudo.v1.Kv'] as ServiceDefinition)['Put'];
    const request = { key: 'a/b', value: Buffer.from('v') };
    expect(put?.requestSerialize(request)).toEqual(expected?.requestSerialize(request));
  });

  it('notices a definition that differs (the comparison can fail)', () => {
    const planted: PackageDefinition = { ...testudoPackageDefinition() };
    const name = Object.keys(planted).find((key) => isMessage(planted[key]!))!;
    const message = planted[name] as MessageTypeDefinition<object, object>;
    planted[name] = { ...message, type: { ...(message.type as object), field: [] } };
    delete planted['testudo.v1.Runs'];
    expect(differences(planted, reference).sort()).toEqual([`${name}: descriptor`, 'testudo.v1.Runs: missing'].sort());
  });
});
