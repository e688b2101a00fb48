#!/usr/bin/env node
// Receives from queue-cluster over STOMP (stompit) until it has been quiet for 4 s.
//
//   node consume.js [FAILOVER-URL]      (the URL: see brokers.js)
//
// The subscription uses client-individual acks: a message leaves the queue only when this
// consumer ACKs it, after printing it. If the master dies first, ConnectFailover connects
// again through the list and the consumer subscribes again; the new master (whose copy of
// the queue came from the old one) delivers what was not acked yet, so a message printed just
// before the failover may come twice (counted as a duplicate), but none is lost.
'use strict';

const { QUEUE, failover, connected } = require('./brokers');

const QUIET_MS = 4000;
const seen = new Set();
let duplicates = 0;
let quiet = null;

failover(process.argv).connect((error, client, reconnect, server) => {
  if (error) {
    console.error(`error: no broker accepted the connection: ${error.message}`);
    process.exit(1);
  }
  connected(client, server);
  let dropped = false;
  const finish = () => {
    client.disconnect(() =>
      console.log(`**** ${seen.size} messages received (${duplicates} duplicates)`));
  };
  const restartQuiet = () => {
    clearTimeout(quiet);
    quiet = setTimeout(finish, QUIET_MS);
  };
  client.on('error', (e) => {
    if (dropped) return;
    dropped = true;
    clearTimeout(quiet);
    console.log(`connection lost (${e.message}): reconnecting`);
    reconnect();
  });
  client.subscribe({ destination: QUEUE, ack: 'client-individual' }, (err, message) => {
    if (err) return; // the connection's 'error' handler fails over
    message.readString('utf-8', (err2, body) => {
      if (err2 || dropped) return;
      if (seen.has(body)) duplicates += 1;
      seen.add(body);
      console.log(`**** consumer received: ${body}`);
      client.ack(message);
      restartQuiet();
    });
  });
  restartQuiet();
});
