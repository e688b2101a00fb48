// The failover URL shared by produce.js and consume.js, and stompit's ConnectFailover on it.
//
// The URL has the Java example's form, with the STOMP ports instead of the OpenWire ones:
//   failover:(tcp://127.0.0.1:61613,tcp://127.0.0.1:61623,tcp://127.0.0.1:61633)?randomize=false
// taken from the first argument, else STOMP_BROKERS, else the default cluster.toml's ports.
// stompit reads it itself (its ConnectFailover understands ActiveMQ's failover: URIs and the
// options initialReconnectDelay, maxReconnectDelay, useExponentialBackOff, maxReconnects,
// randomize). Only the master accepts connections: a connect refused by a slave or a dead
// broker moves on to the next one in the list, after a short delay.
'use strict';

const stompit = require('stompit');

const DEFAULT =
  'failover:(tcp://127.0.0.1:61613,tcp://127.0.0.1:61623,tcp://127.0.0.1:61633)?randomize=false';
const QUEUE = '/queue/queue-cluster';

function url(argv) {
  return argv[2] || process.env.STOMP_BROKERS || DEFAULT;
}

// Defaults for what the URL does not say: walk the list in order, wait 0.1 s, 0.3 s, 0.7 s,
// ... at most 2 s before a retry, and give a broker up after 30 refused connects in a row.
function failover(argv) {
  const manager = new stompit.ConnectFailover(url(argv), {
    initialReconnectDelay: 100,
    maxReconnectDelay: 2000,
    maxReconnects: 30,
    randomize: false,
  });
  manager.on('error', (error, server) => {
    const o = server.serverProperties.connectOptions;
    console.error(`could not connect to ${o.host}:${o.port}: ${error.message}`);
  });
  return manager;
}

// Called with each new connection: logs where it landed and turns Nagle's algorithm off.
// A frame goes out in two writes (headers, then body); with Nagle on, the second waits for
// the broker's delayed ACK of the first, about 40 ms per message when each waits for a receipt.
function connected(client, server) {
  client.getTransportSocket().setNoDelay(true);
  console.log(`connected to ${address(server)}`);
}

function address(server) {
  const o = server.serverProperties.connectOptions;
  return `${o.host}:${o.port}`;
}

module.exports = { QUEUE, failover, connected };
