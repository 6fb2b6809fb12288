// The playground (pd + stores on 127.0.0.1) arrives with the tikv-store service; until then it says so
// plainly instead of pretending to start anything.
export const PLAYGROUND_MESSAGE = [
  "Tessera local cluster: pd and tikv-store are not built yet, so there is nothing to start.",
  "What exists today: the protocol definitions (proto/), codec, runtime, sim and raft libraries;",
  "run `npm test` to exercise them.",
].join("\n");
