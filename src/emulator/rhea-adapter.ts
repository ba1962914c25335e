/**
 * Everything that depends on rhea's behaviour or internals lives here, so a rhea upgrade has one
 * file to re-check. Used internals (rhea 3.0.5): `Connection.accept(socket)` and
 * `abort_socket(socket)`, and a link's `local.attach`, which may still be edited in the
 * `*_open` handler because rhea writes the attach frame on the next tick. The delivery fast path
 * (`OutgoingLink.writeFrame`) also reads and updates a sender's `tag`, `credit`,
 * `delivery_count`, its session's `outgoing` counters and `transfer_window()`, and the
 * connection's `socket_ready`, `transport.has_writes_pending()` and `max_frame_size`.
 */
import net from 'node:net';
import rhea from 'rhea';
import type {
  Connection,
  Container,
  Delivery,
  EventContext,
  Message,
  Receiver,
  Sender,
} from 'rhea';

export type { Message };
export const amqpTypes = rhea.types;
export const amqpMessage = rhea.message;

/** An encoded message that writes itself out (e.g. a stored event kept in pieces). */
export interface EncodedMessage {
  readonly length: number;
  writeTo(dst: Buffer, at: number): void;
}

export interface AmqpError {
  condition: string;
  description: string;
}

/** rhea internals this file relies on (absent from rhea's typings). */
interface ConnectionInternals {
  accept(socket: net.Socket): Connection;
  abort_socket(socket: net.Socket): void;
  socket?: net.Socket;
  socket_ready: boolean;
  transport: { has_writes_pending(): boolean };
  /** The client's max-frame-size (from its open). */
  max_frame_size: number | undefined | null;
}
/** What the transfer fast path reads and updates (rhea 3.0.5 `Sender`, `Session`, `Outgoing`). */
interface SenderInternals {
  tag: number;
  credit: number;
  delivery_count: number;
  local: { handle: number; attach: Record<string, unknown> };
  session: {
    local: { channel: number };
    connection: ConnectionInternals;
    outgoing: {
      next_delivery_id: number;
      next_pending_delivery: number;
      next_transfer_id: number;
      window: number;
      transfer_window(): number;
    };
  };
}

function writeUint32(buf: Buffer, pos: number, value: number): void {
  buf[pos] = value >>> 24;
  buf[pos + 1] = value >>> 16;
  buf[pos + 2] = value >>> 8;
  buf[pos + 3] = value;
}

/**
 * Output chunks for encoded transfer frames. A chunk goes back to the pool when the socket has
 * written it: allocating fresh memory per write costs page faults that outweigh the copying.
 */
const FRAME_CHUNK_BYTES = 256 * 1024;
const framePool: Buffer[] = [];
const FRAME_POOL_MAX = 16;
interface LinkInternals {
  local: { attach: Record<string, unknown> };
}

export class PeerConnection {
  /** Claims granted through `$cbs`, checked when links attach. */
  readonly claims: Array<{ path: string; expiresAt: number }> = [];
  private aborted = false;

  constructor(
    readonly id: number,
    private readonly raw: Connection,
    private readonly socket: net.Socket,
  ) {}

  /**
   * Tears the TCP connection down the way rhea would itself. A plain `socket.destroy()` leaves
   * rhea's idle timer armed and never emits `disconnected` (the test process then hangs).
   */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    (this.raw as unknown as ConnectionInternals).abort_socket(this.socket);
  }

  private chunk: Buffer | undefined;
  private chunkUsed = 0;
  private flushScheduled = false;

  /** The output chunk {@link reserveFrame} last reserved room in. */
  get frameBuffer(): Buffer {
    return this.chunk!;
  }

  /** Reserves `size` bytes for a frame in the output chunk; returns where to write it. */
  reserveFrame(size: number): number {
    if (this.chunk && this.chunkUsed + size > this.chunk.length)
      this.flushFrames();
    if (!this.chunk) {
      this.chunk =
        size <= FRAME_CHUNK_BYTES
          ? (framePool.pop() ?? Buffer.allocUnsafeSlow(FRAME_CHUNK_BYTES))
          : Buffer.allocUnsafeSlow(size);
      this.chunkUsed = 0;
    }
    if (!this.flushScheduled) {
      // Callers flush when they are done; this only guards against a forgotten flush.
      this.flushScheduled = true;
      process.nextTick(() => {
        this.flushScheduled = false;
        this.flushFrames();
      });
    }
    const at = this.chunkUsed;
    this.chunkUsed += size;
    return at;
  }

  flushFrames(): void {
    const chunk = this.chunk;
    if (!chunk || this.chunkUsed === 0) return;
    const used = this.chunkUsed;
    this.chunk = undefined;
    this.chunkUsed = 0;
    if (this.aborted || this.socket.destroyed || this.socket.writableEnded)
      return;
    this.socket.write(chunk.subarray(0, used), () => {
      if (
        chunk.length === FRAME_CHUNK_BYTES &&
        framePool.length < FRAME_POOL_MAX
      )
        framePool.push(chunk);
    });
  }

  /** AMQP close with an error; the socket is aborted shortly after if the peer does not answer. */
  close(error: AmqpError): void {
    this.raw.close(error);
  }

  findReplyLink(replyTo: string): OutgoingLink | undefined {
    const sender = this.raw.find_sender(
      (s: Sender) => s.name === replyTo || s.target?.address === replyTo,
    );
    return sender ? outgoingLinkFor(sender, this) : undefined;
  }
}

abstract class LinkBase<L extends Sender | Receiver> {
  private finished = false;
  constructor(
    protected readonly raw: L,
    readonly connection: PeerConnection,
  ) {}

  get name(): string {
    return this.raw.name;
  }
  get sourceAddress(): string | undefined {
    return this.raw.source?.address ?? undefined;
  }
  get targetAddress(): string | undefined {
    return this.raw.target?.address ?? undefined;
  }
  get properties(): Record<string, unknown> {
    return (this.raw.properties as Record<string, unknown> | undefined) ?? {};
  }
  get desiredCapabilities(): string[] {
    const caps: unknown = this.raw.desired_capabilities;
    if (caps === undefined || caps === null) return [];
    return (Array.isArray(caps) ? caps : [caps]).map(String);
  }
  get isOpen(): boolean {
    return !this.finished && this.raw.is_open();
  }

  protected get attach(): Record<string, unknown> {
    return (this.raw as unknown as LinkInternals).local.attach;
  }

  /** Echo the client's terminus, as the service does (the SDK does not check it, others may). */
  protected echoTermini(): void {
    const remote = (
      this.raw as unknown as { remote: { attach: Record<string, unknown> } }
    ).remote.attach;
    for (const field of ['source', 'target'] as const) {
      const t = remote[field] as
        { described?: () => unknown } | null | undefined;
      if (t && typeof t.described === 'function')
        this.attach[field] = t.described();
    }
  }

  /** Refusing = completing the attach and detaching with the error at once; the SDK reports it. */
  refuse(error: AmqpError): void {
    this.detach(error);
  }

  detach(error?: AmqpError): void {
    if (this.finished) return;
    this.finished = true;
    this.raw.close(error);
  }

  markClosed(): void {
    this.finished = true;
  }
}

export class IncomingLink extends LinkBase<Receiver> {
  /** Accepts the client's sending link and advertises the largest delivery we take. */
  open(maxMessageSize: number): void {
    this.echoTermini();
    this.attach.max_message_size = maxMessageSize;
  }
}

export class OutgoingLink extends LinkBase<Sender> {
  /** Filter expression of the client's source (Event Hubs' selector filter), if any. */
  get filterExpression(): string | undefined {
    const filter = this.raw.source?.filter as
      Record<string, unknown> | undefined | null;
    if (!filter) return undefined;
    for (const v of Object.values(filter)) {
      const s = unwrapString(v);
      if (s !== undefined) return s;
    }
    return undefined;
  }

  get hasFilter(): boolean {
    const filter = this.raw.source?.filter as
      Record<string, unknown> | undefined | null;
    return !!filter && Object.keys(filter).length > 0;
  }

  /**
   * Opens the link for event delivery: pre-settled transfers spare the client its dispositions.
   */
  open(offeredCapabilities: string[]): void {
    this.echoTermini();
    this.attach.snd_settle_mode = 1;
    if (offeredCapabilities.length > 0)
      this.attach.offered_capabilities = offeredCapabilities;
  }

  get credit(): number {
    return (this.raw as unknown as { credit: number }).credit;
  }

  /**
   * True while another delivery goes on the wire now: link credit, room in rhea's session buffer
   * and in the client's session window. rhea's own `sendable()` ignores the window and would
   * queue deliveries that then leave through its slow path.
   */
  sendable(): boolean {
    return (
      this.raw.sendable() &&
      (
        this.raw as unknown as SenderInternals
      ).session.outgoing.transfer_window() > 0
    );
  }

  /**
   * Sends an already encoded message as-is (message-format 0). On an open pre-settled link with
   * credit and nothing queued in rhea, the transfer frame is encoded here and buffered for
   * {@link flush}; otherwise rhea sends it (and queues it until the client grants credit).
   * An {@link EncodedMessage} is written out before this returns, so it may be reused.
   */
  sendRaw(message: Buffer | EncodedMessage): void {
    if (!this.writeFrame(message)) {
      this.flush();
      let bytes: Buffer;
      if (message instanceof Uint8Array) {
        bytes = message;
      } else {
        bytes = Buffer.allocUnsafe(message.length);
        message.writeTo(bytes, 0);
      }
      this.raw.send(bytes, undefined, 0);
    }
  }

  /** Writes the transfers buffered by {@link sendRaw} to the socket, in one write. */
  flush(): void {
    this.connection.flushFrames();
  }

  /**
   * rhea's own send path costs a delivery object, a zero-filled 1 KB frame buffer, a timer reset
   * and a socket write per transfer, which made delivery the emulator's most expensive work.
   * This encodes the transfer frame of a single-frame, pre-settled delivery itself and keeps
   * rhea's session and link counters exactly as `Outgoing.process` would (rhea 3.0.5: a
   * pre-settled delivery is forgotten once sent, so nothing else refers to it).
   */
  private writeFrame(message: Buffer | EncodedMessage): boolean {
    const sender = this.raw as unknown as SenderInternals;
    const session = sender.session;
    const outgoing = session.outgoing;
    const conn = session.connection;
    if (
      sender.local.attach.snd_settle_mode !== 1 ||
      !(sender.credit > 0) ||
      outgoing.next_pending_delivery !== outgoing.next_delivery_id ||
      !(outgoing.transfer_window() > 0) ||
      !conn.socket_ready ||
      !conn.socket ||
      conn.transport.has_writes_pending() ||
      !this.isOpen
    ) {
      return false;
    }
    const tag = String(sender.tag);
    const handle = sender.local.handle as number;
    const deliveryId = outgoing.next_delivery_id;
    // performative: described list8 of handle, delivery-id, delivery-tag, message-format 0,
    // settled true, more false; uints as uint (0x70) to keep the size fixed.
    const listBytes = 1 + 5 + 5 + 2 + tag.length + 1 + 1 + 1;
    const frameSize = 8 + 3 + 2 + listBytes + message.length;
    const maxFrame = conn.max_frame_size;
    if (maxFrame !== undefined && maxFrame !== null && frameSize > maxFrame)
      return false;
    let p = this.connection.reserveFrame(frameSize);
    const b = this.connection.frameBuffer;
    writeUint32(b, p, frameSize);
    b[p + 4] = 2;
    b[p + 5] = 0;
    b[p + 6] = (session.local.channel >>> 8) & 0xff;
    b[p + 7] = session.local.channel & 0xff;
    b[p + 8] = 0x00;
    b[p + 9] = 0x53;
    b[p + 10] = 0x14;
    b[p + 11] = 0xc0;
    b[p + 12] = listBytes;
    b[p + 13] = 6;
    b[p + 14] = 0x70;
    writeUint32(b, p + 15, handle);
    b[p + 19] = 0x70;
    writeUint32(b, p + 20, deliveryId >>> 0);
    b[p + 24] = 0xa0;
    b[p + 25] = tag.length;
    p += 26;
    for (let i = 0; i < tag.length; i++) b[p++] = tag.charCodeAt(i);
    b[p] = 0x43;
    b[p + 1] = 0x41;
    b[p + 2] = 0x42;
    p += 3;
    if (!(message instanceof Uint8Array)) {
      message.writeTo(b, p);
    } else if (message.length <= 32) {
      for (let i = 0; i < message.length; i++) b[p + i] = message[i]!;
    } else {
      b.set(message, p);
    }

    sender.tag++;
    outgoing.next_delivery_id++;
    outgoing.next_pending_delivery++;
    outgoing.next_transfer_id++;
    outgoing.window--;
    sender.credit--;
    sender.delivery_count++;
    return true;
  }

  /** Sends a message rhea encodes; rhea queues it until the client grants credit. */
  sendMessage(msg: Message): void {
    this.raw.send(msg);
  }
}

function unwrapString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const value = (v as { value?: unknown }).value;
    if (typeof value === 'string') return value;
    if (value !== undefined) return unwrapString(value);
  }
  return undefined;
}

const connections = new WeakMap<Connection, PeerConnection>();
const incoming = new WeakMap<Receiver, IncomingLink>();
const outgoing = new WeakMap<Sender, OutgoingLink>();

function outgoingLinkFor(sender: Sender, conn: PeerConnection): OutgoingLink {
  let link = outgoing.get(sender);
  if (!link) {
    link = new OutgoingLink(sender, conn);
    outgoing.set(sender, link);
  }
  return link;
}

function incomingLinkFor(
  receiver: Receiver,
  conn: PeerConnection,
): IncomingLink {
  let link = incoming.get(receiver);
  if (!link) {
    link = new IncomingLink(receiver, conn);
    incoming.set(receiver, link);
  }
  return link;
}

export class Transfer {
  private settled = false;
  constructor(
    /** Raw payload for non-zero message formats (the SDK's batch envelope). */
    readonly payload: Buffer | undefined,
    /** rhea's decoding for message-format 0 (`$cbs`, `$management`, foreign producers). */
    readonly message: Message | undefined,
    readonly format: number,
    private readonly delivery: Delivery,
  ) {}

  get size(): number {
    return this.payload?.length ?? 0;
  }

  accept(): void {
    if (this.settled) return;
    this.settled = true;
    this.delivery.accept();
  }

  reject(error: AmqpError): void {
    if (this.settled) return;
    this.settled = true;
    this.delivery.reject(error);
  }
}

export interface AmqpHandlers {
  /** A client sending link (producer, `$cbs` or `$management` request link). */
  incomingLink(link: IncomingLink): void;
  /** A client receiving link (consumer or reply link). */
  outgoingLink(link: OutgoingLink): void;
  transfer(link: IncomingLink, transfer: Transfer): void;
  sendable(link: OutgoingLink): void;
  linkClosed(link: IncomingLink | OutgoingLink): void;
  connectionClosed(conn: PeerConnection): void;
  /** Whether new TCP connections are taken (false during a stop-accepting fault). */
  accepting(): boolean;
}

export interface AmqpServer {
  readonly port: number;
  readonly connections: ReadonlySet<PeerConnection>;
  close(): Promise<void>;
}

export async function startAmqpServer(
  host: string,
  port: number,
  handlers: AmqpHandlers,
): Promise<AmqpServer> {
  const container: Container = rhea.create_container({
    id: 'eventhubs-emulator',
  });
  const live = new Set<PeerConnection>();
  let nextId = 1;

  const peerOf = (ctx: EventContext): PeerConnection | undefined =>
    connections.get(ctx.connection);

  container.on('receiver_open', (ctx: EventContext) => {
    const peer = peerOf(ctx);
    if (peer && ctx.receiver)
      handlers.incomingLink(incomingLinkFor(ctx.receiver, peer));
  });
  container.on('sender_open', (ctx: EventContext) => {
    const peer = peerOf(ctx);
    if (peer && ctx.sender)
      handlers.outgoingLink(outgoingLinkFor(ctx.sender, peer));
  });
  container.on('message', (ctx: EventContext) => {
    const peer = peerOf(ctx);
    if (!peer || !ctx.receiver || !ctx.delivery) return;
    // rhea hands non-zero-format transfers over undecoded, as a Buffer in `message`.
    const format = (ctx as unknown as { format?: number }).format ?? 0;
    const raw: unknown = ctx.message;
    const transfer =
      format !== 0 && Buffer.isBuffer(raw)
        ? new Transfer(raw, undefined, format, ctx.delivery)
        : new Transfer(undefined, ctx.message, 0, ctx.delivery);
    handlers.transfer(incomingLinkFor(ctx.receiver, peer), transfer);
  });
  container.on('sendable', (ctx: EventContext) => {
    const peer = peerOf(ctx);
    if (peer && ctx.sender)
      handlers.sendable(outgoingLinkFor(ctx.sender, peer));
  });
  const linkClosed = (ctx: EventContext): void => {
    const peer = peerOf(ctx);
    if (!peer) return;
    const link = ctx.sender
      ? outgoingLinkFor(ctx.sender, peer)
      : ctx.receiver
        ? incomingLinkFor(ctx.receiver, peer)
        : undefined;
    if (link) {
      link.markClosed();
      handlers.linkClosed(link);
    }
  };
  container.on('sender_close', linkClosed);
  container.on('receiver_close', linkClosed);
  // Errors from clients (detach/close with an error) are normal here; without listeners rhea
  // would emit them on the container and crash the process.
  for (const event of [
    'sender_error',
    'receiver_error',
    'session_error',
    'connection_error',
  ]) {
    container.on(event, () => {});
  }
  container.on('error', () => {});
  const gone = (ctx: EventContext): void => {
    const peer = peerOf(ctx);
    if (peer && live.delete(peer)) handlers.connectionClosed(peer);
  };
  container.on('disconnected', gone);
  container.on('connection_close', (ctx: EventContext) => {
    const peer = peerOf(ctx);
    // The client closed cleanly; rhea answers the close, we end the socket after it is written.
    if (peer) setImmediate(() => peer.abort());
  });

  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    if (!handlers.accepting()) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const conn = container.create_connection({
      id: `emulator-${nextId}`,
      container_id: 'eventhubs-emulator',
      // Without it every request/response step stalls ~40 ms (Nagle vs. delayed ACK).
      tcp_no_delay: true,
      reconnect: false,
      // Publishes are settled by the emulator itself (faults may reject or never settle them).
      autoaccept: false,
      properties: { product: 'flowservice-eventhubs-emulator' },
    } as unknown as Parameters<Container['create_connection']>[0]);
    const peer = new PeerConnection(nextId++, conn, socket);
    connections.set(conn, peer);
    live.add(peer);
    (conn as unknown as ConnectionInternals).accept(socket);
  });
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;

  return {
    port: address.port,
    connections: live,
    close: async () => {
      const closed = new Promise<void>((resolve) =>
        server.close(() => resolve()),
      );
      for (const peer of live) peer.abort();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
