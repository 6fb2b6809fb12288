// Entry point of `npm start` and `npm run ctl`. The playground (pd + stores on 127.0.0.1) arrives with
// the pd and tikv-store services; until then it says so plainly instead of pretending to start anything.
const command = process.argv[2] ?? "help";

if (command === "playground") {
  console.log(
    [
      "Tessera local cluster: pd and tikv-store are not built yet, so there is nothing to start.",
      "What exists today: the protocol definitions (proto/), codec, runtime, sim and raft libraries;",
      "run `npm test` to exercise them.",
    ].join("\n"),
  );
  process.exit(0);
}
console.error(`unknown command "${command}"; available: playground`);
process.exit(2);
