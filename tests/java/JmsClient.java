// The real ActiveMQ JMS client (javax.jms 1.1 + activemq-client 5.17) against mqsim, for
// tests/openwire.rs. Every mode prints "ok <step>" lines and exits 0, or prints
// "FAIL <why>" and exits 1.
//
//   java JmsClient basic   URL            connect, persistent send, auto/client-ack receive,
//                                         a queue browser, selectors,
//                                         transactions, topics, durable subscriptions,
//                                         request/reply over a temp queue, DLQ, close
//   java JmsClient produce URL QUEUE N MS persistent sends 1..N (int property "seq"), MS ms
//                                         apart, printing "sent <seq> <blocked us> <elapsed us>"
//                                         once send() has returned
//   java JmsClient consume URL QUEUE MS   drains QUEUE (auto-ack) until MS ms of silence,
//                                         printing "recv <seq>"
//   java JmsClient send    URL QUEUE TEXT one persistent TextMessage with a few properties
//   java JmsClient recv    URL QUEUE MS   receives one message and prints its fields

import java.util.Enumeration;
import java.util.TreeMap;

import javax.jms.Connection;
import javax.jms.DeliveryMode;
import javax.jms.Destination;
import javax.jms.Message;
import javax.jms.MessageConsumer;
import javax.jms.MessageProducer;
import javax.jms.Queue;
import javax.jms.Session;
import javax.jms.TemporaryQueue;
import javax.jms.TextMessage;
import javax.jms.Topic;
import javax.jms.TopicSubscriber;

import org.apache.activemq.ActiveMQConnectionFactory;

public class JmsClient {
    static void check(boolean ok, String what) {
        if (!ok) {
            System.out.println("FAIL " + what);
            System.out.flush();
            System.exit(1);
        }
    }

    static void ok(String step) {
        System.out.println("ok " + step);
        System.out.flush();
    }

    static String text(Message m) throws Exception {
        return m == null ? null : ((TextMessage) m).getText();
    }

    /** Receives PREFIX1..PREFIXn in order and then nothing more, and closes the consumer. */
    static void receiveAll(MessageConsumer c, String prefix, int n, String what) throws Exception {
        for (int i = 1; i <= n; i++) {
            String got = text(c.receive(5000));
            check((prefix + i).equals(got), what + ": " + prefix + i + ", got " + got);
        }
        check(c.receive(300) == null, what + ": nothing after " + prefix + n);
        c.close();
    }

    public static void main(String[] args) throws Exception {
        try {
            run(args);
        } catch (Throwable t) {
            System.out.println("FAIL " + t);
            t.printStackTrace(System.out);
            System.out.flush();
            System.exit(1);
        }
        System.exit(0);
    }

    static void run(String[] args) throws Exception {
        String mode = args[0];
        ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory(args[1]);
        switch (mode) {
            case "basic": basic(factory); break;
            case "produce": produce(factory, args[2], Integer.parseInt(args[3]), Long.parseLong(args[4])); break;
            case "consume": consume(factory, args[2], Long.parseLong(args[3])); break;
            case "send": send(factory, args[2], args[3]); break;
            case "recv": recv(factory, args[2], Long.parseLong(args[3])); break;
            default: check(false, "unknown mode " + mode);
        }
    }

    static void basic(ActiveMQConnectionFactory factory) throws Exception {
        factory.getRedeliveryPolicy().setMaximumRedeliveries(1);
        factory.getRedeliveryPolicy().setInitialRedeliveryDelay(0);
        factory.getRedeliveryPolicy().setRedeliveryDelay(0);
        Connection connection = factory.createConnection();
        connection.setClientID("mqsim-basic");
        connection.start();
        ok("connect");

        // Persistent send, auto-ack receive; properties keep their types.
        Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue queue = session.createQueue("ow.basic");
        MessageProducer producer = session.createProducer(queue);
        producer.setDeliveryMode(DeliveryMode.PERSISTENT);
        for (int i = 1; i <= 3; i++) {
            TextMessage m = session.createTextMessage("basic-" + i + " h\u00e9llo");
            m.setIntProperty("n", i);
            m.setStringProperty("who", "jms");
            m.setJMSCorrelationID("corr-" + i);
            producer.send(m);
        }
        ok("persistent-send");
        MessageProducer any = session.createProducer(null);
        MessageConsumer consumer = session.createConsumer(queue);
        for (int i = 1; i <= 3; i++) {
            Message m = consumer.receive(5000);
            check(m != null, "auto-ack message " + i + " arrived");
            check(text(m).equals("basic-" + i + " h\u00e9llo"), "text " + text(m));
            check(m.getObjectProperty("n").equals(Integer.valueOf(i)), "typed int property " + m.getObjectProperty("n"));
            check(("corr-" + i).equals(m.getJMSCorrelationID()), "correlation id");
            check(m.getJMSDeliveryMode() == DeliveryMode.PERSISTENT, "persistent");
            check(m.getJMSMessageID().startsWith("ID:"), "message id " + m.getJMSMessageID());
        }
        check(consumer.receive(300) == null, "no fourth message");
        consumer.close();
        ok("auto-ack-receive");

        // A queue browser sees what waits, in order, and takes nothing.
        Queue bq = session.createQueue("ow.browse");
        for (int i = 1; i <= 3; i++) any.send(bq, session.createTextMessage("browse-" + i));
        javax.jms.QueueBrowser browser = session.createBrowser(bq);
        Enumeration<?> seen = browser.getEnumeration();
        for (int i = 1; i <= 3; i++) {
            check(seen.hasMoreElements(), "browsed message " + i);
            check(("browse-" + i).equals(text((Message) seen.nextElement())), "browsed in order " + i);
        }
        check(!seen.hasMoreElements(), "the browser ends after the queue's three messages");
        browser.close();
        check(!session.createBrowser(session.createQueue("ow.browse-empty")).getEnumeration().hasMoreElements(),
              "an empty queue browses empty");
        receiveAll(session.createConsumer(bq), "browse-", 3, "still there after browsing");
        ok("browse");

        // Selectors, on typed properties: a consumer gets only what it selects, the rest waits.
        Queue sq = session.createQueue("ow.select");
        for (int i = 1; i <= 4; i++) {
            TextMessage m = session.createTextMessage("sel-" + i);
            m.setIntProperty("n", i);
            m.setStringProperty("color", i % 2 == 0 ? "blue" : "red");
            any.send(sq, m);
        }
        MessageConsumer picky = session.createConsumer(sq, "color = 'blue' AND n > 2");
        check("sel-4".equals(text(picky.receive(5000))), "the selected message");
        check(picky.receive(300) == null, "only one message selected");
        picky.close();
        Enumeration<?> low = session.createBrowser(sq, "n <= 2").getEnumeration();
        for (int i = 1; i <= 2; i++) {
            check(low.hasMoreElements() && ("sel-" + i).equals(text((Message) low.nextElement())), "browsed " + i);
        }
        check(!low.hasMoreElements(), "a browser with a selector shows only what it selects");
        receiveAll(session.createConsumer(sq), "sel-", 3, "left for others");
        ok("selectors");

        // Client ack: acknowledge() acks everything delivered; unacked ones come back.
        Session client = connection.createSession(false, Session.CLIENT_ACKNOWLEDGE);
        Queue cq = client.createQueue("ow.client");
        MessageProducer cp = client.createProducer(cq);
        for (int i = 1; i <= 3; i++) cp.send(client.createTextMessage("client-" + i));
        MessageConsumer cc = client.createConsumer(cq);
        Message last = null;
        for (int i = 1; i <= 3; i++) {
            last = cc.receive(5000);
            check(last != null && text(last).equals("client-" + i), "client-ack message " + i);
        }
        last.acknowledge();
        cp.send(client.createTextMessage("unacked"));
        Message un = cc.receive(5000);
        check(un != null && text(un).equals("unacked"), "unacked arrives");
        cc.close();
        MessageConsumer cc2 = client.createConsumer(cq);
        Message again = cc2.receive(5000);
        check(again != null && text(again).equals("unacked"), "the unacked message is redelivered, got " + text(again));
        check(again.getJMSRedelivered(), "JMSRedelivered set on redelivery");
        again.acknowledge();
        check(cc2.receive(300) == null, "nothing left after acks");
        cc2.close();
        ok("client-ack-receive");

        // Transacted send: invisible until commit; rollback discards.
        Session tx = connection.createSession(true, Session.SESSION_TRANSACTED);
        Queue tq = tx.createQueue("ow.tx");
        MessageProducer tp = tx.createProducer(tq);
        MessageConsumer tc = session.createConsumer(tq);
        tp.send(tx.createTextMessage("tx-1"));
        tp.send(tx.createTextMessage("tx-2"));
        check(tc.receive(500) == null, "uncommitted sends are invisible");
        tx.commit();
        check("tx-1".equals(text(tc.receive(5000))) && "tx-2".equals(text(tc.receive(5000))), "committed sends arrive");
        tp.send(tx.createTextMessage("rolled-back"));
        tx.rollback();
        check(tc.receive(500) == null, "a rolled-back send never arrives");
        tc.close();
        ok("transacted-send");

        // Transacted receive: rollback redelivers, commit consumes.
        MessageConsumer trc = tx.createConsumer(tq);
        any.send(tq, session.createTextMessage("tx-recv"));
        check("tx-recv".equals(text(trc.receive(5000))), "transacted receive");
        tx.rollback();
        Message r2 = trc.receive(5000);
        check("tx-recv".equals(text(r2)) && r2.getJMSRedelivered(), "redelivered after rollback");
        tx.commit();
        trc.close();
        MessageConsumer left = session.createConsumer(tq);
        check(left.receive(300) == null, "consumed by the commit");
        left.close();
        ok("transacted-receive");

        // Poison: past maximumRedeliveries the client poison-acks; the message goes to the DLQ.
        MessageConsumer pc = tx.createConsumer(tq);
        any.send(tq, session.createTextMessage("poison"));
        for (int i = 0; i < 2; i++) {
            check("poison".equals(text(pc.receive(5000))), "poison delivery " + i);
            tx.rollback();
        }
        check(pc.receive(500) == null, "poison message not delivered a third time");
        pc.close();
        tx.commit();
        MessageConsumer dlq = session.createConsumer(session.createQueue("ActiveMQ.DLQ"));
        check("poison".equals(text(dlq.receive(5000))), "poison message in ActiveMQ.DLQ");
        dlq.close();
        ok("dlq");

        // Topics and a durable subscription.
        Topic topic = session.createTopic("ow.topic");
        MessageConsumer sub = session.createConsumer(topic);
        TopicSubscriber durable = session.createDurableSubscriber(topic, "durable-1");
        MessageProducer pub = session.createProducer(topic);
        pub.send(session.createTextMessage("fan-out"));
        check("fan-out".equals(text(sub.receive(5000))), "topic subscriber");
        check("fan-out".equals(text(durable.receive(5000))), "durable subscriber");
        durable.close();
        pub.send(session.createTextMessage("while-away"));
        durable = session.createDurableSubscriber(topic, "durable-1");
        check("while-away".equals(text(durable.receive(5000))), "durable subscription kept a message");
        durable.close();
        session.unsubscribe("durable-1");
        sub.close();
        ok("topics");

        // Request/reply over a temporary queue, the replier on another connection: it only
        // may send to the temp queue once its advisory consumer has heard of it.
        Connection server = factory.createConnection();
        server.start();
        Session ss = server.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer requests = ss.createConsumer(ss.createQueue("ow.rpc"));
        MessageProducer replies = ss.createProducer(null);
        TemporaryQueue replyTo = session.createTemporaryQueue();
        MessageConsumer replyConsumer = session.createConsumer(replyTo);
        TextMessage request = session.createTextMessage("ping");
        request.setJMSReplyTo(replyTo);
        request.setJMSCorrelationID("rpc-1");
        any.send(session.createQueue("ow.rpc"), request);
        Message got = requests.receive(5000);
        check(got != null && "ping".equals(text(got)), "request arrives");
        Destination back = got.getJMSReplyTo();
        check(back instanceof TemporaryQueue, "JMSReplyTo is a temp queue: " + back);
        TextMessage reply = ss.createTextMessage("pong");
        reply.setJMSCorrelationID(got.getJMSCorrelationID());
        long deadline = System.currentTimeMillis() + 5000;
        while (true) {
            try {
                replies.send(back, reply);
                break;
            } catch (javax.jms.InvalidDestinationException e) {
                check(System.currentTimeMillis() < deadline, "the temp queue advisory never arrived: " + e);
                Thread.sleep(50);
            }
        }
        Message pong = replyConsumer.receive(5000);
        check(pong != null && "pong".equals(text(pong)) && "rpc-1".equals(pong.getJMSCorrelationID()), "reply");
        replyConsumer.close();
        replyTo.delete();
        server.close();
        ok("request-reply");

        connection.close();
        ok("close");
    }

    static void produce(ActiveMQConnectionFactory factory, String queue, int n, long pauseMs) throws Exception {
        Connection connection = factory.createConnection();
        connection.start();
        Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer producer = session.createProducer(session.createQueue(queue));
        producer.setDeliveryMode(DeliveryMode.PERSISTENT);
        long start = System.nanoTime();
        for (int i = 1; i <= n; i++) {
            TextMessage m = session.createTextMessage("m-" + i);
            m.setIntProperty("seq", i);
            long t0 = System.nanoTime();
            producer.send(m);
            long t1 = System.nanoTime();
            // seq, how long send() blocked, time since the first send (microseconds)
            System.out.println("sent " + i + " " + (t1 - t0) / 1000 + " " + (t1 - start) / 1000);
            System.out.flush();
            if (pauseMs > 0) Thread.sleep(pauseMs);
        }
        connection.close();
        ok("produced " + n);
    }

    static void consume(ActiveMQConnectionFactory factory, String queue, long idleMs) throws Exception {
        Connection connection = factory.createConnection();
        connection.start();
        Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer consumer = session.createConsumer(session.createQueue(queue));
        int n = 0;
        Message m;
        while ((m = consumer.receive(idleMs)) != null) {
            System.out.println("recv " + m.getIntProperty("seq"));
            n++;
        }
        connection.close();
        ok("consumed " + n);
    }

    static void send(ActiveMQConnectionFactory factory, String queue, String body) throws Exception {
        Connection connection = factory.createConnection();
        connection.start();
        Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer producer = session.createProducer(session.createQueue(queue));
        producer.setDeliveryMode(DeliveryMode.PERSISTENT);
        TextMessage m = session.createTextMessage(body);
        m.setStringProperty("color", "red");
        m.setIntProperty("count", 3);
        m.setJMSCorrelationID("from-jms");
        m.setJMSType("greeting");
        m.setJMSReplyTo(session.createQueue("ow.replies"));
        producer.setPriority(6);
        producer.send(m);
        connection.close();
        ok("sent");
    }

    static void recv(ActiveMQConnectionFactory factory, String queue, long waitMs) throws Exception {
        Connection connection = factory.createConnection();
        connection.start();
        Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Message m = session.createConsumer(session.createQueue(queue)).receive(waitMs);
        check(m != null, "a message on " + queue);
        TreeMap<String, String> props = new TreeMap<>();
        for (Enumeration<?> e = m.getPropertyNames(); e.hasMoreElements();) {
            String k = (String) e.nextElement();
            props.put(k, String.valueOf(m.getObjectProperty(k)));
        }
        System.out.println("text=" + text(m));
        System.out.println("correlation=" + m.getJMSCorrelationID());
        System.out.println("type=" + m.getJMSType());
        System.out.println("priority=" + m.getJMSPriority());
        System.out.println("persistent=" + (m.getJMSDeliveryMode() == DeliveryMode.PERSISTENT));
        System.out.println("replyTo=" + m.getJMSReplyTo());
        System.out.println("props=" + props);
        connection.close();
        ok("received");
    }
}
