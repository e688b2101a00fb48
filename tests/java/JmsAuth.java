// The real ActiveMQ JMS client with a user name and password, for tests/hostile/openwire.rs.
// Plain tcp:// URLs (no failover), so a refusal surfaces at once. Prints "ok ..." lines, or
// "refused <exception class>: <message>" when the broker refuses; exits 0 either way (1 only
// for an unexpected failure).
//
//   java JmsAuth URL USER PASS connect              connects (ConnectionInfo) and closes
//   java JmsAuth URL USER PASS send QUEUE N PREFIX  N persistent TextMessages PREFIX0..
//   java JmsAuth URL USER PASS recv QUEUE MS        receives until MS ms of silence,
//                                                   printing "got <text>", then "ok recv <n>"

import javax.jms.Connection;
import javax.jms.DeliveryMode;
import javax.jms.JMSException;
import javax.jms.Message;
import javax.jms.MessageConsumer;
import javax.jms.MessageProducer;
import javax.jms.Session;
import javax.jms.TextMessage;

import org.apache.activemq.ActiveMQConnectionFactory;

public class JmsAuth {
    public static void main(String[] args) throws Exception {
        String url = args[0], user = args[1], pass = args[2], mode = args[3];
        ActiveMQConnectionFactory f = new ActiveMQConnectionFactory(url);
        Connection c = null;
        try {
            c = f.createConnection(user.isEmpty() ? null : user, pass.isEmpty() ? null : pass);
            c.start();
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            if (mode.equals("connect")) {
                System.out.println("ok connect");
            } else if (mode.equals("send")) {
                MessageProducer p = s.createProducer(s.createQueue(args[4]));
                p.setDeliveryMode(DeliveryMode.PERSISTENT);
                int n = Integer.parseInt(args[5]);
                for (int i = 0; i < n; i++) {
                    p.send(s.createTextMessage(args[6] + i));
                }
                System.out.println("ok sent " + n);
            } else if (mode.equals("recv")) {
                MessageConsumer m = s.createConsumer(s.createQueue(args[4]));
                long ms = Long.parseLong(args[5]);
                int n = 0;
                for (Message msg = m.receive(ms); msg != null; msg = m.receive(ms)) {
                    System.out.println("got " + ((TextMessage) msg).getText());
                    n++;
                }
                System.out.println("ok recv " + n);
            }
        } catch (JMSException e) {
            Throwable t = e.getLinkedException() != null ? e.getLinkedException() : e;
            System.out.println("refused " + e.getClass().getName() + ": " + e.getMessage()
                    + (t != e ? " (" + t.getClass().getName() + ")" : ""));
        } finally {
            System.out.flush();
            if (c != null) {
                try {
                    c.close();
                } catch (Exception ignored) {
                }
            }
        }
        System.exit(0);
    }
}
