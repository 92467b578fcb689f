// Type declarations for push-service-client (src/push-client.js).

/** A push exactly as the server sent it (the seed's message shape). */
export interface PushMessage {
    topic: string;
    number: number;
    contents: unknown;
    [field: string]: unknown;
}

/** Where the client is in the uid's stream: the epoch (16 lowercase hex digits)
 *  and the number of the last message given to the app. */
export interface Position {
    epoch: string;
    last: number;
}

export type PushClientState = "idle" | "connecting" | "connected" | "reconnecting" | "closed";

/** The subset of the Web Storage API the client uses (sessionStorage, localStorage). */
export interface PositionStorage {
    getItem(key: string): string | null;
    setItem(key: string, value: string): void;
}

/** Something with addEventListener/removeEventListener (window, document). */
export interface EventSourceLike {
    addEventListener(type: string, listener: () => void): void;
    removeEventListener(type: string, listener: () => void): void;
}

/** The part of the browser's WebSocket the client uses. */
export interface WebSocketLike {
    // The client assigns these; it reads event.data (onmessage) and
    // event.code, event.reason, event.wasClean (onclose).
    onopen: ((event: any) => any) | null;
    onmessage: ((event: any) => any) | null;
    onclose: ((event: any) => any) | null;
    onerror: ((event: any) => any) | null;
    send(data: string): void;
    close(code?: number, reason?: string): void;
}

export interface PushClientOptions {
    /** The uid whose messages to receive. */
    uid: string | number;
    /** Returns a fresh access key (your backend calls GET /access). Called for every attempt. */
    getKey: () => string | Promise<string>;
    /** Where push-service is: "wss://push.example.com", "https://example.com/push-service/",
     *  or (in a page) a path such as "/push-service/". "/ws" is appended unless the path ends
     *  with it; http(s) becomes ws(s). Default "/ws" on the page's host. */
    url?: string;
    /** Where a client without a known position starts: "now" (default: only new messages)
     *  or "acked" (after the uid's highest acknowledged number: messages no tab acknowledged
     *  are replayed). */
    from?: "now" | "acked";
    /** false: ask for the plain stream without since/epoch (no position frame, no resume,
     *  no duplicate suppression), for a server without resume. Default true. */
    resume?: boolean;
    /** Send {"ack":N} once every "message" listener has returned for N and all earlier
     *  messages (a returned promise: once it settled). Default false. */
    autoAck?: boolean;
    /** Milliseconds to gather acknowledgements and send only the highest. Default 0 (at once). */
    ackDelay?: number;
    /** Backoff: attempt n waits a uniformly random time in [0, min(maxDelay, minDelay * factor^n)). */
    minDelay?: number;   // default 500
    maxDelay?: number;   // default 30000
    factor?: number;     // default 2
    /** Milliseconds the opening handshake may take; then the attempt counts as a
     *  network failure (1006). 0 disables. Default 10000. */
    connectTimeout?: number;
    /** Keeps the position across page loads (sessionStorage: per tab). Default none. */
    storage?: PositionStorage | null;
    /** Storage key. Default "push-client:" + uid. */
    storageKey?: string;
    /** Injectable environment (tests, workers). Defaults: the globals. */
    WebSocket?: new (url: string) => WebSocketLike;
    setTimeout?: (fn: () => void, ms: number) => unknown;
    clearTimeout?: (id: any) => void;
    random?: () => number;
    /** Source of "online" events; null for none. Default window. */
    window?: EventSourceLike | null;
    /** Source of "visibilitychange" events, with visibilityState; null for none. Default document. */
    document?: (EventSourceLike & { visibilityState?: string }) | null;
}

export interface ConnectedEvent {
    /** The stream's epoch; null on the plain stream (resume: false, or an old server). */
    epoch: string | null;
    /** The uid's last message number, its highest acknowledged one, and the first number replayed. */
    last?: number;
    acked?: number;
    first?: number;
    /** false: messages after the position asked for are gone (see "gap"). */
    recovered?: boolean;
    /** true on the plain stream. */
    legacy: boolean;
}

export interface DisconnectedEvent {
    /** The close code (1006 for a network failure, a refused handshake or the connect timeout). */
    code: number;
    reason: string;
    wasClean: boolean;
    /** false after close() and after 1002/1003/1007/1009. */
    willReconnect: boolean;
}

export interface ReconnectEvent {
    /** Milliseconds until the next attempt (0: at once, after a refused key). */
    delay: number;
    /** Failed attempts so far. */
    attempt: number;
    /** The close code that caused it; null when getKey() failed. */
    code: number | null;
}

export interface GapEvent {
    /** The epoch the lost messages belonged to. */
    epoch: string;
    /** First lost number. */
    from: number;
    /** Last lost number; null when unknown (the epoch ended). */
    to: number | null;
    /** "epoch": the server's stream restarted; "evicted": the server no longer has them. */
    reason: "epoch" | "evicted";
}

export interface ErrorEvent {
    /** "key": getKey() failed; "refused": the server refused the key (a 1008 close follows);
     *  "server": a {"control":"error"} frame; "protocol": a frame the client does not understand;
     *  "fatal": the client stopped (1002/1003/1007/1009, no usable WebSocket);
     *  "listener": one of your listeners threw or its promise rejected; "storage": storage failed. */
    type: "key" | "refused" | "server" | "protocol" | "fatal" | "kicked" | "listener" | "storage";
    message: string;
    /** The server's reason ("refused", "server"). */
    reason?: string;
    /** The close code ("fatal"). */
    code?: number;
    /** The event whose listener failed ("listener"). */
    event?: string;
    error?: unknown;
}

export interface StateEvent {
    state: PushClientState;
    previous: PushClientState;
}

export interface PushClientEvents {
    state: StateEvent;
    connecting: { attempt: number };
    connected: ConnectedEvent;
    disconnected: DisconnectedEvent;
    reconnect: ReconnectEvent;
    message: PushMessage;
    gap: GapEvent;
    error: ErrorEvent;
}

export class PushClient {
    constructor(options: PushClientOptions);
    readonly uid: string;
    /** "idle" | "connecting" | "connected" | "reconnecting" | "closed" */
    readonly state: PushClientState;
    /** Epoch and last number given to the app, or null. */
    readonly position: Position | null;
    /** Adds a listener; returns a function that removes it. A "message" listener may
     *  return a promise: with autoAck, the message is acknowledged once it settles. */
    on<K extends keyof PushClientEvents>(event: K, listener: (detail: PushClientEvents[K]) => unknown): () => void;
    off<K extends keyof PushClientEvents>(event: K, listener: (detail: PushClientEvents[K]) => unknown): void;
    /** Starts, or restarts after close(); a scheduled reconnect happens at once. */
    connect(): void;
    /** Closes with 1000 and stops reconnecting until connect(). */
    close(): void;
    /** Acknowledges every message up to `number` of the current epoch. */
    ack(number: number): void;
}

/** Full-jitter backoff: a uniformly random integer in [0, min(maxDelay, minDelay * factor^attempt)). */
export function backoffDelay(
    attempt: number,
    options?: { minDelay?: number; maxDelay?: number; factor?: number },
    random?: () => number,
): number;

export default PushClient;
