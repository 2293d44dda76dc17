// The public log's proof checker: RFC 9162 §2.1.3.2 inclusion verification with the
// browser's own SHA-256 (WebCrypto). Nothing the server says about validity is used:
// the root comes from the signed checkpoint on the page, the verdict from this code.
"use strict";

const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (text) => {
  const clean = text.trim().toLowerCase();
  if (!/^([0-9a-f]{2})*$/.test(clean)) throw new Error("not hex");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
};
const unb64 = (text) => Uint8Array.from(atob(text.trim()), (c) => c.charCodeAt(0));
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};
const sha256 = async (data) => new Uint8Array(await crypto.subtle.digest("SHA-256", data));
const leafHash = (data) => sha256(concat(new Uint8Array([0]), data));
const nodeHash = (l, r) => sha256(concat(new Uint8Array([1]), l, r));
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// RFC 9162 §2.1.3.2, step by step.
async function verifyInclusion(index, size, leaf, path, root) {
  if (!(index >= 0 && index < size)) return false;
  let fn = index, sn = size - 1, r = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

// A C2SP checkpoint: origin, size, base64 root; a blank line; signature lines.
function parseCheckpoint(note) {
  const cut = note.lastIndexOf("\n\n");
  const text = note.slice(0, cut + 1);
  const lines = text.split("\n");
  const sigs = note.slice(cut + 2).split("\n").filter((l) => l.startsWith("\u2014 "));
  return { text, origin: lines[0], size: Number(lines[1]), root: unb64(lines[2]), sigs };
}

async function checkSignature(cp, vkey) {
  // vkey: name+keyid(hex)+base64(0x01 || ed25519 public key)
  const [name, keyid, b64] = vkey.trim().split("+");
  const key = unb64(b64).slice(1);
  for (const line of cp.sigs) {
    const [, who, sig64] = line.split(" ");
    const sig = unb64(sig64);
    if (who !== name || hex(sig.slice(0, 4)) !== keyid.toLowerCase()) continue;
    let k;
    try {
      k = await crypto.subtle.importKey("raw", key, { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      return null;  // this browser has no Ed25519
    }
    return crypto.subtle.verify({ name: "Ed25519" }, k, sig.slice(4), new TextEncoder().encode(cp.text));
  }
  return false;
}

function main() {
  const form = document.getElementById("checker");
  const pre = document.getElementById("checkpoint");
  if (!form || !pre) return;
  const say = (id, text, ok) => {
    const el = document.getElementById(id);
    el.textContent = text;
    el.className = ok === true ? "ok" : ok === false ? "error" : "";
    el.dataset.result = ok === true ? "valid" : ok === false ? "invalid" : "unknown";
  };
  const cp = parseCheckpoint(pre.textContent);
  const pub = document.getElementById("pubkey");
  if (pub) {
    checkSignature(cp, pub.textContent).then((ok) => {
      if (ok === null) say("signature", form.dataset.sigNa, null);
      else say("signature", ok ? form.dataset.sigOk : form.dataset.sigBad, ok);
    }).catch(() => say("signature", form.dataset.sigNa, null));
  }
  document.getElementById("tree-size").value = String(cp.size);

  async function load() {
    const index = Number(document.getElementById("leaf-index").value);
    try {
      const leaves = await (await fetch(`/api/v1/log/leaves?start=${index}&end=${index + 1}`)).json();
      const proof = await (await fetch(`/api/v1/log/proof/${index}?size=${cp.size}`)).json();
      const data = unb64(leaves.leaves[0].data);
      document.getElementById("leaf-data").value = new TextDecoder().decode(data);
      document.getElementById("proof").value = proof.path.join("\n");
      document.getElementById("tree-size").value = String(cp.size);
      say("verdict", "", undefined);
    } catch (e) {
      say("verdict", form.dataset.loadFailed, false);
    }
  }

  async function check(event) {
    event.preventDefault();
    try {
      const index = Number(document.getElementById("leaf-index").value);
      const size = Number(document.getElementById("tree-size").value);
      const data = new TextEncoder().encode(document.getElementById("leaf-data").value);
      const path = document.getElementById("proof").value.split(/\s+/).filter(Boolean).map(unhex);
      // the root is the signed checkpoint's, for the checkpoint's size only
      const ok = size === cp.size && await verifyInclusion(index, size, await leafHash(data), path, cp.root);
      say("verdict", ok ? form.dataset.ok : form.dataset.bad, ok);
    } catch (e) {
      say("verdict", form.dataset.bad, false);
    }
  }

  document.getElementById("load").addEventListener("click", load);
  form.addEventListener("submit", check);
  if (form.dataset.leaf !== "") load();
}

document.addEventListener("DOMContentLoaded", main);
