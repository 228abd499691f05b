// Errors of webpickle's JavaScript: the pool's and the remote client's rejections.

/**
 * An Error whose `name` says what failed (its callers' names: ErrorName in
 * protocol.mjs, RemoteErrorName in remote_protocol.mjs).
 * @param {string} name
 * @param {string} message
 * @param {{cause?: unknown} & Record<string, unknown>} [details] `cause` becomes the Error's cause
 *   (when given); other fields are set on the Error (a remote error's `status`, say).
 * @returns {Error & Record<string, any>}
 */
export function makeError(name, message, { cause, ...fields } = {}) {
  const error = new Error(message, cause === undefined ? undefined : { cause });
  error.name = name;
  return Object.assign(error, fields);
}

/** "Name: message" of an error, for messages that wrap it. */
export function describe(error) {
  if (!(error instanceof Error)) return String(error);
  return error.name && error.name !== "Error" ? `${error.name}: ${error.message}` : error.message;
}
