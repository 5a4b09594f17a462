/** The stream list page: live channels from `GET /api/streams`, refreshed every few seconds. */

interface ListedStream {
  playbackId: string;
  name: string;
  startedAt: string;
}

const REFRESH_MS = 5000;

function since(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return '';
  if (s < 60) return `live for ${s} s`;
  if (s < 3600) return `live for ${Math.floor(s / 60)} min`;
  return `live for ${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function main(): void {
  const list = document.getElementById('streams') as HTMLUListElement;
  const status = document.getElementById('status') as HTMLElement;
  // `/watch/{id}` on the local stack; `index.html?v={id}` beside the page on CloudFront.
  const template = document.body.dataset.playerLink ?? '/watch/{id}';
  const api = document.body.dataset.api ?? '/api/streams';

  const render = (streams: ListedStream[]) => {
    const now = Date.now();
    list.replaceChildren(
      ...streams.map((s) => {
        const li = document.createElement('li');
        const a = document.createElement('a');
        a.href = template.replace('{id}', encodeURIComponent(s.playbackId));
        a.textContent = s.name;
        a.dataset.playbackId = s.playbackId;
        const meta = document.createElement('span');
        meta.className = 'meta';
        meta.textContent = since(s.startedAt, now);
        li.append(a, meta);
        return li;
      }),
    );
    list.dataset.count = String(streams.length);
    status.textContent = streams.length ? '' : 'No one is live right now. This list refreshes by itself.';
  };

  const refresh = async () => {
    try {
      const res = await fetch(api, { credentials: 'omit' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = (await res.json()) as { streams: ListedStream[] };
      render(Array.isArray(body.streams) ? body.streams : []);
      document.body.dataset.loaded = 'true';
    } catch {
      status.textContent = 'Could not load the stream list; retrying…';
    }
    setTimeout(refresh, REFRESH_MS);
  };
  void refresh();
}

main();
