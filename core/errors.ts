/**
 * Typed errors. HTTP errors carry their status and serialize themselves, so every 4xx/5xx the origin sends
 * comes from one place. Domain errors let the store's callers react to a lost conditional write without
 * knowing about DynamoDB.
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HttpError';
  }

  toJSON(): { error: string; message: string; statusCode: number } {
    return { error: this.code, message: this.message, statusCode: this.statusCode };
  }
}

export class BadRequestError extends HttpError {
  constructor(message = 'Bad request') {
    super(400, 'BadRequest', message);
  }
}
export class NotFoundError extends HttpError {
  constructor(message = 'Not found') {
    super(404, 'NotFound', message);
  }
}
export class MethodNotAllowedError extends HttpError {
  constructor(message = 'Method not allowed') {
    super(405, 'MethodNotAllowed', message);
  }
}
export class BadGatewayError extends HttpError {
  constructor(message = 'Upstream failed', options?: { cause?: unknown }) {
    super(502, 'BadGateway', message, options);
  }
}
export class GatewayTimeoutError extends HttpError {
  constructor(message = 'Upstream timed out', options?: { cause?: unknown }) {
    super(504, 'GatewayTimeout', message, options);
  }
}

/** A conditional write lost: the item was not in the state the caller required. Not a failure of the store. */
export class ConditionFailedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConditionFailedError';
  }
}

/** A channel with that name already exists. */
export class ChannelExistsError extends Error {
  constructor(readonly channelName: string) {
    super(`a channel named ${JSON.stringify(channelName)} already exists`);
    this.name = 'ChannelExistsError';
  }
}
