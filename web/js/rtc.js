// Video calls between the people of a pair: or meet: room, browser to
// browser over WebRTC. The server only relays the signalling: each offer,
// answer and ICE candidate goes out as {type:"signal", to, room, data} and
// arrives as {type:"signal", from, room, data}.
//
// A call is a mesh: one RTCPeerConnection per partner (a pair has one, a
// trio two). The impolite side (the smaller user id) makes the first offer;
// after that, negotiation follows the "perfect negotiation" pattern: either
// side may offer, and when offers cross, the polite side yields. That makes
// the order in which the two browsers learn of the match, or get their
// camera, irrelevant.
//
// The camera and microphone are asked for once per page and reused for every
// round; without them (refused, no device) the call still receives.
//
// ICE servers come from config.json ({"iceServers": [...]}); none are needed
// on one machine or one LAN, STUN (and TURN behind strict NATs) elsewhere.

import { h } from './dom.js';

let localStreamPromise = null;
let localStream = null;

/** The page's camera+microphone stream, asked for once; null when unavailable. */
export function getLocalStream() {
  if (!localStreamPromise) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      localStreamPromise = Promise.resolve(null);
    } else {
      localStreamPromise = navigator.mediaDevices
        .getUserMedia({ audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 } } })
        .then(
          (s) => (localStream = s),
          () => null,
        );
    }
  }
  return localStreamPromise;
}

export function setMicEnabled(on) {
  if (localStream) for (const t of localStream.getAudioTracks()) t.enabled = on;
}
export function setCameraEnabled(on) {
  if (localStream) for (const t of localStream.getVideoTracks()) t.enabled = on;
}

const STATE_TEXT = {
  new: 'Waiting',
  connecting: 'Connecting…',
  connected: 'Connected',
  disconnected: 'Reconnecting…',
  failed: 'Connection failed',
  closed: 'Call ended',
};

function playQuietly(video) {
  const p = video.play();
  if (p && p.catch) p.catch(() => {});
}

class Peer {
  constructor(call, partner) {
    this.call = call;
    this.partner = partner;
    this.polite = call.me.id > partner.id;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.negotiated = false;
    this.queue = Promise.resolve();
    this.closed = false;
    this.history = [];
    this.pc = new RTCPeerConnection({ iceServers: call.iceServers });
    this.video = h('video', { autoplay: true, playsinline: true, 'aria-label': `Video of ${partner.name}` });
    this.label = h('span', { class: 'tile-state' }, STATE_TEXT.new);
    this.tile = h(
      'figure',
      { class: 'tile', dataset: { peer: partner.id, state: 'new' } },
      this.video,
      h('figcaption', {}, h('span', { class: 'tile-name' }, partner.name), ' · ', this.label),
    );
    const pc = this.pc;
    pc.ontrack = ({ streams, track }) => {
      const stream = streams[0] || new MediaStream([track]);
      if (this.video.srcObject !== stream) {
        this.video.srcObject = stream;
        playQuietly(this.video);
      }
    };
    pc.onicecandidate = ({ candidate }) => {
      this.tile.dataset.candSent = Number(this.tile.dataset.candSent || 0) + 1;
      this.send({ candidate: candidate ? candidate.toJSON() : null });
    };
    pc.onicegatheringstatechange = () => {
      this.tile.dataset.gathering = pc.iceGatheringState;
    };
    pc.onnegotiationneeded = () => {
      // The first offer comes from the impolite side only: when both offer
      // at once, the polite side must roll its offer back, and Chromium
      // then sometimes gathers no ICE candidates on either side (the call
      // stays "new" for good). Later renegotiations may start on either side.
      if (this.polite && !this.negotiated) {
        this.note('waiting for the first offer');
        return;
      }
      this.enqueue(async () => {
        this.makingOffer = true;
        try {
          await pc.setLocalDescription();
          this.note(`sent ${pc.localDescription.type}`);
          this.send({ description: pc.localDescription.toJSON() });
        } finally {
          this.makingOffer = false;
        }
      });
    };
    pc.onconnectionstatechange = () => this.showState(pc.connectionState);
    // The finer states, on the tile, for whoever has to find out why a call
    // does not connect.
    pc.onsignalingstatechange = () => {
      this.tile.dataset.signaling = pc.signalingState;
    };
    pc.oniceconnectionstatechange = () => {
      this.tile.dataset.ice = pc.iceConnectionState;
    };
  }

  /** The last negotiation steps, kept on the tile for diagnosis. */
  note(what) {
    this.history.push(what);
    if (this.history.length > 12) this.history.shift();
    this.tile.dataset.log = this.history.join(' | ');
  }

  showState(state) {
    this.tile.dataset.state = state;
    this.label.textContent = STATE_TEXT[state] || state;
    this.call.onPeerState(this.partner, state);
    if (state === 'failed' && !this.closed) this.pc.restartIce();
  }

  /** Add the local tracks, or ask to receive only. */
  attach(stream) {
    if (this.closed) return;
    this.note(stream ? 'tracks added' : 'receive only');
    if (stream) {
      for (const track of stream.getTracks()) this.pc.addTrack(track, stream);
    } else {
      this.pc.addTransceiver('audio', { direction: 'recvonly' });
      this.pc.addTransceiver('video', { direction: 'recvonly' });
    }
  }

  send(data) {
    if (this.closed) return;
    this.call.conn
      .request('signal', { to: this.partner.id, room: this.call.room, data })
      .catch((err) => this.note(`signal not sent: ${err.code}`));
  }

  /** Run negotiation steps one at a time, in arrival order. */
  enqueue(step) {
    this.queue = this.queue.then(step).catch((err) => {
      this.note(`error ${err && err.name}: ${err && err.message}`);
      if (!this.closed) this.call.onProblem(this.partner, err);
    });
    return this.queue;
  }

  receive(data) {
    this.enqueue(async () => {
      if (this.closed || !data || typeof data !== 'object') return;
      const pc = this.pc;
      if (data.description) {
        const d = data.description;
        const collision = d.type === 'offer' && (this.makingOffer || pc.signalingState !== 'stable');
        this.ignoreOffer = !this.polite && collision;
        this.note(`got ${d.type}${collision ? ' (collision)' : ''}${this.ignoreOffer ? ' ignored' : ''}`);
        if (this.ignoreOffer) return;
        await pc.setRemoteDescription(d);
        if (d.type === 'offer') {
          await pc.setLocalDescription();
          this.note(`sent ${pc.localDescription.type}`);
          this.send({ description: pc.localDescription.toJSON() });
        }
        this.negotiated = true;
      } else if ('candidate' in data) {
        try {
          await pc.addIceCandidate(data.candidate || undefined);
          this.tile.dataset.candGot = Number(this.tile.dataset.candGot || 0) + 1;
        } catch (err) {
          if (!this.ignoreOffer) throw err;
          this.note('candidate of an ignored offer dropped');
        }
      }
    });
  }

  close() {
    this.closed = true;
    this.pc.onicecandidate = this.pc.ontrack = this.pc.onnegotiationneeded = this.pc.onconnectionstatechange = null;
    this.pc.onsignalingstatechange = this.pc.oniceconnectionstatechange = null;
    this.pc.close();
    this.video.srcObject = null;
    this.tile.dataset.state = 'closed';
    this.label.textContent = STATE_TEXT.closed;
  }
}

export class Call {
  /**
   * @param {object} o
   * @param {import('./connection.js').Connection} o.conn
   * @param {string} o.room pair: or meet: room
   * @param {{id:string,name:string}} o.me
   * @param {{id:string,name:string}[]} o.partners
   * @param {RTCIceServer[]} o.iceServers
   * @param {HTMLElement} o.container where the video tiles go
   * @param {(text:string) => void} [o.onStatus]
   */
  constructor({ conn, room, me, partners, iceServers = [], container, onStatus = () => {} }) {
    this.conn = conn;
    this.room = room;
    this.me = me;
    this.iceServers = iceServers;
    this.container = container;
    this.onStatus = onStatus;
    this.peers = new Map();
    this.buffered = [];
    this.ready = false;
    this.closed = false;
    this.onSignal = (e) => this.handleSignal(e.detail);
    conn.addEventListener('signal', this.onSignal);
    this.localVideo = h('video', { autoplay: true, playsinline: true, muted: true, 'aria-label': 'Your camera' });
    this.localVideo.muted = true;
    this.localTile = h('figure', { class: 'tile tile-self' }, this.localVideo, h('figcaption', {}, 'You'));
    for (const p of partners) this.peers.set(p.id, new Peer(this, p));
    container.replaceChildren(...[...this.peers.values()].map((p) => p.tile), this.localTile);
    container.dataset.room = room;
    this.start();
  }

  async start() {
    const stream = await getLocalStream();
    if (this.closed) return;
    if (stream) {
      this.localVideo.srcObject = stream;
      playQuietly(this.localVideo);
    } else {
      this.localTile.querySelector('figcaption').textContent = 'You (no camera or microphone: others cannot see or hear you)';
    }
    for (const p of this.peers.values()) p.attach(stream);
    this.ready = true;
    const early = this.buffered;
    this.buffered = [];
    for (const m of early) this.handleSignal(m);
  }

  handleSignal(msg) {
    if (this.closed || msg.room !== this.room) return;
    if (!this.ready) {
      this.buffered.push(msg);
      return;
    }
    const peer = this.peers.get(msg.from);
    if (peer) peer.receive(msg.data);
  }

  /** Is this call about the same room and people as a new match? */
  sameAs(room, partners) {
    if (this.closed || room !== this.room || partners.length !== this.peers.size) return false;
    return partners.every((p) => this.peers.has(p.id));
  }

  onPeerState(partner, state) {
    const states = [...this.peers.values()].map((p) => p.pc.connectionState);
    this.container.dataset.state = states.every((s) => s === 'connected') ? 'connected' : states.join(' ');
    this.onStatus(`${partner.name}: ${STATE_TEXT[state] || state}`);
  }

  onProblem(partner, err) {
    this.onStatus(`Video with ${partner.name} had a problem: ${err && err.message ? err.message : err}`);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.conn.removeEventListener('signal', this.onSignal);
    for (const p of this.peers.values()) p.close();
    this.localVideo.srcObject = null;
    this.container.replaceChildren();
    this.container.dataset.state = 'closed';
  }
}
