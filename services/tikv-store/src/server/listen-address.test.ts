import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { advertisedAddress, InvalidAddressError, parseHostPort } from "./listen-address.ts";

describe("listen addresses", () => {
  test("host:port, port 0 and bracketed IPv6", () => {
    assert.deepEqual(parseHostPort("127.0.0.1:20160", "server.addr"), { host: "127.0.0.1", port: 20160 });
    assert.deepEqual(parseHostPort("0.0.0.0:0", "server.addr"), { host: "0.0.0.0", port: 0 });
    assert.deepEqual(parseHostPort("[::1]:20180", "server.status-addr"), { host: "::1", port: 20180 });
  });

  test("malformed addresses name the setting", () => {
    for (const bad of ["20160", ":20160", "host:", "host:port", "host:70000", "host:-1"]) {
      assert.throws(
        () => parseHostPort(bad, "server.addr"),
        (error: unknown) => {
          assert.ok(error instanceof InvalidAddressError);
          assert.match(error.message, /server\.addr/);
          return true;
        },
      );
    }
  });

  test("the advertised address is the configured one, else the bound one with the real port", () => {
    assert.equal(
      advertisedAddress("store-1.stores:20160", { host: "0.0.0.0", port: 20160 }),
      "store-1.stores:20160",
    );
    assert.equal(advertisedAddress("", { host: "127.0.0.1", port: 41234 }), "127.0.0.1:41234");
    assert.equal(advertisedAddress("", { host: "::1", port: 41234 }), "[::1]:41234");
  });
});
