// Reads a text/event-stream body incrementally: feed decoded text, get back
// the data of every complete event. Comments (":" lines, e.g. keep-alives)
// and fields other than data are skipped; multi-line data is joined with "\n".
export class EventStreamParser {
  #buffer = "";
  #data: string[] = [];

  push(text: string): string[] {
    this.#buffer += text;
    const events: string[] = [];
    let newline: number;
    while ((newline = this.#buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.#buffer.slice(0, newline);
      const width = this.#buffer.startsWith("\r\n", newline) ? 2 : 1;
      // A lone "\r" at the end may be the first half of "\r\n": wait for more.
      if (width === 1 && this.#buffer[newline] === "\r" && newline === this.#buffer.length - 1) {
        break;
      }
      this.#buffer = this.#buffer.slice(newline + width);
      if (line === "") {
        if (this.#data.length) events.push(this.#data.join("\n"));
        this.#data = [];
      } else if (line.startsWith("data:")) {
        this.#data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
      }
    }
    return events;
  }

  // An event the stream ended without terminating; servers often omit the last blank line.
  end(): string[] {
    const rest = this.push("\n\n");
    this.#buffer = "";
    return rest;
  }
}
