// Original file: proto/testudo.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DeleteRequest as _testudo_v1_DeleteRequest, DeleteRequest__Output as _testudo_v1_DeleteRequest__Output } from '../../testudo/v1/DeleteRequest.js';
import type { DeleteResponse as _testudo_v1_DeleteResponse, DeleteResponse__Output as _testudo_v1_DeleteResponse__Output } from '../../testudo/v1/DeleteResponse.js';
import type { GetRequest as _testudo_v1_GetRequest, GetRequest__Output as _testudo_v1_GetRequest__Output } from '../../testudo/v1/GetRequest.js';
import type { GetResponse as _testudo_v1_GetResponse, GetResponse__Output as _testudo_v1_GetResponse__Output } from '../../testudo/v1/GetResponse.js';
import type { ListRequest as _testudo_v1_ListRequest, ListRequest__Output as _testudo_v1_ListRequest__Output } from '../../testudo/v1/ListRequest.js';
import type { ListResponse as _testudo_v1_ListResponse, ListResponse__Output as _testudo_v1_ListResponse__Output } from '../../testudo/v1/ListResponse.js';
import type { PutManyRequest as _testudo_v1_PutManyRequest, PutManyRequest__Output as _testudo_v1_PutManyRequest__Output } from '../../testudo/v1/PutManyRequest.js';
import type { PutManyResponse as _testudo_v1_PutManyResponse, PutManyResponse__Output as _testudo_v1_PutManyResponse__Output } from '../../testudo/v1/PutManyResponse.js';
import type { PutRequest as _testudo_v1_PutRequest, PutRequest__Output as _testudo_v1_PutRequest__Output } from '../../testudo/v1/PutRequest.js';
import type { PutResponse as _testudo_v1_PutResponse, PutResponse__Output as _testudo_v1_PutResponse__Output } from '../../testudo/v1/PutResponse.js';

export interface KvClient extends grpc.Client {
  Delete(argument: _testudo_v1_DeleteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  Delete(argument: _testudo_v1_DeleteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  Delete(argument: _testudo_v1_DeleteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  Delete(argument: _testudo_v1_DeleteRequest, callback: grpc.requestCallback<_testudo_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _testudo_v1_DeleteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _testudo_v1_DeleteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _testudo_v1_DeleteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _testudo_v1_DeleteRequest, callback: grpc.requestCallback<_testudo_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  
  Get(argument: _testudo_v1_GetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  Get(argument: _testudo_v1_GetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  Get(argument: _testudo_v1_GetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  Get(argument: _testudo_v1_GetRequest, callback: grpc.requestCallback<_testudo_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _testudo_v1_GetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _testudo_v1_GetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _testudo_v1_GetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _testudo_v1_GetRequest, callback: grpc.requestCallback<_testudo_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  
  List(argument: _testudo_v1_ListRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  List(argument: _testudo_v1_ListRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  List(argument: _testudo_v1_ListRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  List(argument: _testudo_v1_ListRequest, callback: grpc.requestCallback<_testudo_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  list(argument: _testudo_v1_ListRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  list(argument: _testudo_v1_ListRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  list(argument: _testudo_v1_ListRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  list(argument: _testudo_v1_ListRequest, callback: grpc.requestCallback<_testudo_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  
  Put(argument: _testudo_v1_PutRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_PutResponse__Output>): grpc.ClientUnaryCall;
  Put(argument: _testudo_v1_PutRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_PutResponse__Output>): grpc.ClientUnaryCall;
  Put(argument: _testudo_v1_PutRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_PutResponse__Output>): grpc.ClientUnaryCall;
  Put(argument: _testudo_v1_PutRequest, callback: grpc.requestCallback<_testudo_v1_PutResponse__Output>): grpc.ClientUnaryCall;
  put(argument: _testudo_v1_PutRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_PutResponse__Output>): grpc.ClientUnaryCall;
  put(argument: _testudo_v1_PutRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_PutResponse__Output>): grpc.ClientUnaryCall;
  put(argument: _testudo_v1_PutRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_PutResponse__Output>): grpc.ClientUnaryCall;
  put(argument: _testudo_v1_PutRequest, callback: grpc.requestCallback<_testudo_v1_PutResponse__Output>): grpc.ClientUnaryCall;
  
  PutMany(argument: _testudo_v1_PutManyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_PutManyResponse__Output>): grpc.ClientUnaryCall;
  PutMany(argument: _testudo_v1_PutManyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_PutManyResponse__Output>): grpc.ClientUnaryCall;
  PutMany(argument: _testudo_v1_PutManyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_PutManyResponse__Output>): grpc.ClientUnaryCall;
  PutMany(argument: _testudo_v1_PutManyRequest, callback: grpc.requestCallback<_testudo_v1_PutManyResponse__Output>): grpc.ClientUnaryCall;
  putMany(argument: _testudo_v1_PutManyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_PutManyResponse__Output>): grpc.ClientUnaryCall;
  putMany(argument: _testudo_v1_PutManyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_PutManyResponse__Output>): grpc.ClientUnaryCall;
  putMany(argument: _testudo_v1_PutManyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_PutManyResponse__Output>): grpc.ClientUnaryCall;
  putMany(argument: _testudo_v1_PutManyRequest, callback: grpc.requestCallback<_testudo_v1_PutManyResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface KvHandlers extends grpc.UntypedServiceImplementation {
  Delete: grpc.handleUnaryCall<_testudo_v1_DeleteRequest__Output, _testudo_v1_DeleteResponse>;
  
  Get: grpc.handleUnaryCall<_testudo_v1_GetRequest__Output, _testudo_v1_GetResponse>;
  
  List: grpc.handleUnaryCall<_testudo_v1_ListRequest__Output, _testudo_v1_ListResponse>;
  
  Put: grpc.handleUnaryCall<_testudo_v1_PutRequest__Output, _testudo_v1_PutResponse>;
  
  PutMany: grpc.handleUnaryCall<_testudo_v1_PutManyRequest__Output, _testudo_v1_PutManyResponse>;
  
}

export interface KvDefinition extends grpc.ServiceDefinition {
  Delete: MethodDefinition<_testudo_v1_DeleteRequest, _testudo_v1_DeleteResponse, _testudo_v1_DeleteRequest__Output, _testudo_v1_DeleteResponse__Output>
  Get: MethodDefinition<_testudo_v1_GetRequest, _testudo_v1_GetResponse, _testudo_v1_GetRequest__Output, _testudo_v1_GetResponse__Output>
  List: MethodDefinition<_testudo_v1_ListRequest, _testudo_v1_ListResponse, _testudo_v1_ListRequest__Output, _testudo_v1_ListResponse__Output>
  Put: MethodDefinition<_testudo_v1_PutRequest, _testudo_v1_PutResponse, _testudo_v1_PutRequest__Output, _testudo_v1_PutResponse__Output>
  PutMany: MethodDefinition<_testudo_v1_PutManyRequest, _testudo_v1_PutManyResponse, _testudo_v1_PutManyRequest__Output, _testudo_v1_PutManyResponse__Output>
}
