/**
 * Server-rendered HTML of the lab dashboard. The page polls `/?partial=1` every
 * 2 s and swaps the content in; buttons (node stop/start/restart, trunk
 * unregister/register, peer link cut/restore) POST to the control API. No framework, no external assets (the lab must work offline).
 */
import type { CallSummary, NodeStatus, RegistrationView } from '../admin/types.ts';
import type { LabNodeInfo } from './node-process.ts';

export interface LabNodeOverview extends LabNodeInfo {
  status?: NodeStatus;
  registrations: RegistrationView[];
  calls: CallSummary[];
  /** Why status/registrations/calls could not be fetched, while up. */
  fetchError?: string;
}

export interface LabOverview {
  domain: string;
  dns?: { address: string; port: number };
  nodes: LabNodeOverview[];
}

export function escapeHtml(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STATE_COLOR: Record<string, string> = { up: '#1a7f37', starting: '#9a6700', stopping: '#9a6700', down: '#57606a', failed: '#cf222e' };

function nodeSection(n: LabNodeOverview): string {
  const e = escapeHtml;
  const node = encodeURIComponent(n.name);
  const btn = (url: string, label: string): string => `<button data-post="${e(url)}">${e(label)}</button>`;
  const buttons = ['start', 'stop', 'restart'].map((a) => btn(`/api/nodes/${node}/${a}`, a)).join(' ');
  const listeners = n.status?.listeners.map((l) => `${e(l.transport)} ${e(l.address)}:${e(l.port)}`).join(', ') ?? `${e(n.address)}:${n.sipPort} (tls ${n.tlsPort})`;
  const regs = n.registrations.length === 0 ? '<p class="dim">no registrations</p>' : `<table><tr><th>AOR</th><th>contact</th><th>via</th><th>expires</th><th>user agent</th></tr>${
    n.registrations.map((r) => `<tr><td>${e(r.aor)}</td><td>${e(r.contact)}</td><td>${e(r.flow.transport)} ${e(r.flow.address)}:${e(r.flow.port)}</td><td>${e(r.expiresInSec)} s</td><td>${e(r.userAgent ?? '')}</td></tr>`).join('')}</table>`;
  const calls = n.calls.length === 0 ? '<p class="dim">no calls</p>' : `<table><tr><th>direction</th><th>state</th><th>from</th><th>to</th><th>via</th></tr>${
    n.calls.map((c) => `<tr><td>${e(c.direction)}</td><td>${e(c.state)}</td><td>${e(c.from)}</td><td>${e(c.to)}</td><td>${e(c.via ?? '')}</td></tr>`).join('')}</table>`;
  const extra = [
    n.status ? `uptime ${e(n.status.uptimeSec)} s` : '',
    n.status?.trunks?.length ? `trunks: ${n.status.trunks.map((t) => `${e(t.name)} ${t.registered ? '✔' : '✘'} ${
      btn(`/api/nodes/${node}/trunks/${encodeURIComponent(t.name)}/${t.registered ? 'unregister' : 'register'}`, t.registered ? 'unregister' : 'register')}`).join(', ')}` : '',
    n.status?.peers?.length ? `peers: ${n.status.peers.map((p) => `${e(p.name)} ${p.up ? '✔' : '✘'} ${
      btn(`/api/links/${node}/${encodeURIComponent(p.name)}/${p.up ? 'cut' : 'restore'}`, p.up ? 'cut' : 'restore')}`).join(', ')}` : '',
  ].filter(Boolean).join(' · ');
  const problem = n.lastError ? `<pre class="err">${e(n.lastError)}${n.outputTail?.length ? '\n' + e(n.outputTail.join('\n')) : ''}</pre>` : '';
  return `<section id="node-${e(n.name)}">
<h2>${e(n.name)} <span class="state" style="color:${STATE_COLOR[n.state] ?? '#000'}">${e(n.state)}</span> <small>${e(n.role)} · ${e(n.host)} · ${listeners} · <a href="${e(n.adminUrl)}/api/status">admin</a>${n.pid ? ` · pid ${n.pid}` : ''}</small></h2>
<p>${buttons} <span class="dim">${extra}</span></p>${problem}${n.fetchError ? `<p class="err">${e(n.fetchError)}</p>` : ''}
<h3>Registrations</h3>${regs}<h3>Calls</h3>${calls}</section>`;
}

export function renderContent(o: LabOverview): string {
  const dns = o.dns ? `DNS ${escapeHtml(o.dns.address)}:${o.dns.port} (authoritative for ${escapeHtml(o.domain)})` : 'no lab DNS';
  return `<p class="dim">${dns} · updated ${escapeHtml(new Date().toISOString())}</p>${o.nodes.map(nodeSection).join('\n')}`;
}

export function renderPage(o: LabOverview): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>spacephone lab</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;max-width:70em}
table{border-collapse:collapse;margin:.3em 0}td,th{border:1px solid #d0d7de;padding:.2em .5em;text-align:left}
section{border-top:2px solid #d0d7de;margin-top:1em}.dim{color:#57606a}.err{color:#cf222e;white-space:pre-wrap}
</style></head>
<body><h1>spacephone lab</h1>
<div id="content">${renderContent(o)}</div>
<script>
async function refresh(){try{const r=await fetch('/?partial=1');if(r.ok)document.getElementById('content').innerHTML=await r.text();}catch(e){}}
setInterval(refresh,2000);
document.addEventListener('click',async(ev)=>{const b=ev.target.closest('button[data-post]');if(!b)return;b.disabled=true;
try{await fetch(b.dataset.post,{method:'POST'});}finally{refresh();}});
</script></body></html>`;
}
