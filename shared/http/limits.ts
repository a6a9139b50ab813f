// How much a request may send. Shared by the app's body limit and by the
// server that drains what an early answer left unread.
export const MAX_BODY_BYTES = 1024 * 1024;
