import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoLoaderOptions, protoPath } from '../common/protos.js';

/** testudo.proto loaded once for the gRPC services (values are plain objects). */
export const testudoPackageDefinition: protoLoader.PackageDefinition = protoLoader.loadSync(protoPath('testudo.proto'), protoLoaderOptions);

interface TestudoV1 {
  Kv: grpc.ServiceClientConstructor;
  Cluster: grpc.ServiceClientConstructor;
  Runs: grpc.ServiceClientConstructor;
  Worker: grpc.ServiceClientConstructor;
}

export const testudoV1 = (grpc.loadPackageDefinition(testudoPackageDefinition) as unknown as { testudo: { v1: TestudoV1 } }).testudo.v1;
