import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

import type { ProtoGrpcType } from '../generated/testudo.js';
import { protoLoaderOptions, protoPath } from './protos.js';

/**
 * testudo.proto, parsed once per process and shared by everything that needs
 * it: the replicated-record codec (src/coordinator/codec.ts) takes the
 * protobufjs root, the gRPC services and clients (coordinator, worker agent,
 * src/client/rpc.ts) take the proto-loader package definition built from that
 * same root. Each is built on first use, so a command that never speaks gRPC
 * does not pay for it.
 *
 * The file ships with the package: failing to read it is a broken install,
 * and the error stops the caller.
 */

/**
 * The gRPC services of testudo.v1, as grpc-js client constructors, typed by
 * the types generated from the proto (src/generated, `npm run gen:proto`).
 */
export type TestudoServices = Pick<ProtoGrpcType['testudo']['v1'], 'Kv' | 'Cluster' | 'Runs' | 'Worker'>;

let root: protobuf.Root | undefined;
let packageDefinition: protoLoader.PackageDefinition | undefined;
let services: TestudoServices | undefined;

/** The protobufjs root of testudo.proto (field names in camelCase, protobufjs's default). */
export function testudoProtoRoot(): protobuf.Root {
  root ??= protobuf.loadSync(protoPath('testudo.proto'));
  return root;
}

/**
 * The proto-loader package definition of testudo.proto, built from
 * {@link testudoProtoRoot} rather than by parsing the file again;
 * test/common/testudo-proto.test.ts checks it matches proto-loader's own load.
 */
export function testudoPackageDefinition(): protoLoader.PackageDefinition {
  packageDefinition ??= protoLoader.fromJSON(testudoProtoRoot().toJSON(), protoLoaderOptions);
  return packageDefinition;
}

/** testudo.v1's services for grpc-js servers (`.service`) and clients (`new`). */
export function testudoServices(): TestudoServices {
  services ??= (grpc.loadPackageDefinition(testudoPackageDefinition()) as unknown as ProtoGrpcType).testudo.v1;
  return services;
}
