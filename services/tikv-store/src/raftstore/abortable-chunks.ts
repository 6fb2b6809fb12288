/**
 * A snapshot stream that ends with the store: the transport reads chunks until the sender's owner aborts,
 * so closing the store cuts a send in progress instead of waiting for the whole region to stream.
 */
export async function* abortable(
  chunks: AsyncIterable<Uint8Array>,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    signal.throwIfAborted();
    yield chunk;
  }
}
