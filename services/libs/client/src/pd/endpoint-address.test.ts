import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidEndpointError, toGrpcAddress } from "./endpoint-address.ts";

describe("toGrpcAddress", () => {
  test("URLs and bare host:port become host:port", () => {
    assert.equal(toGrpcAddress("127.0.0.1:2379"), "127.0.0.1:2379");
    assert.equal(toGrpcAddress("http://10.0.0.1:2379"), "10.0.0.1:2379");
    assert.equal(toGrpcAddress(" https://pd-0.pd:2379/ "), "pd-0.pd:2379");
    assert.equal(toGrpcAddress("http://[::1]:2379"), "[::1]:2379");
  });

  test("an endpoint without a port or host is refused with the endpoint named", () => {
    for (const endpoint of ["", "127.0.0.1", "http://pd", "::::"]) {
      assert.throws(() => toGrpcAddress(endpoint), InvalidEndpointError, endpoint);
    }
  });
});
