// Golden OpenWire vectors from the real ActiveMQ client jar (Debian libactivemq-java 5.17).
//
//   java Golden gen      one line per command: "<name> <hex of the loose, size-prefixed frame>"
//   java Golden parse    reads such lines (written by mqsim's encoder) and prints, per line,
//                        "<name> <what the jar made of it>"
//
// Both use new OpenWireFormat(12) in loose encoding without cache or stack traces, which is
// what mqsim negotiates. Used by tests/openwire.rs.

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.DeflaterOutputStream;

import org.apache.activemq.advisory.AdvisorySupport;
import org.apache.activemq.command.*;
import org.apache.activemq.openwire.OpenWireFormat;
import org.apache.activemq.openwire.OpenWireFormatFactory;
import org.apache.activemq.util.ByteSequence;
import org.apache.activemq.util.MarshallingSupport;

public class Golden {
    static OpenWireFormat loose() {
        OpenWireFormat wf = new OpenWireFormat(12);
        wf.setTightEncodingEnabled(false);
        wf.setCacheEnabled(false);
        wf.setStackTraceEnabled(false);
        wf.setSizePrefixDisabled(false);
        return wf;
    }

    static final StringBuilder out = new StringBuilder();

    static void emit(String name, Object command) throws Exception {
        ByteSequence bs = loose().marshal(command);
        StringBuilder hex = new StringBuilder();
        for (int i = bs.offset; i < bs.offset + bs.length; i++) {
            hex.append(String.format("%02x", bs.data[i] & 0xff));
        }
        out.append(name).append(' ').append(hex).append('\n');
    }

    static <T extends BaseCommand> T rr(T c, int id) {
        c.setCommandId(id);
        c.setResponseRequired(true);
        return c;
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("parse")) {
            parse();
            return;
        }
        ConnectionId conn = new ConnectionId("ID:golden-host-40000-1700000000000-1:1");
        SessionId session = new SessionId(conn, 1);
        ProducerId producer = new ProducerId(session, 1);
        ConsumerId consumer = new ConsumerId(session, 1);
        ActiveMQQueue queue = new ActiveMQQueue("golden.queue");
        ActiveMQTopic topic = new ActiveMQTopic("golden.topic");
        ActiveMQTempQueue temp = new ActiveMQTempQueue(conn, 1);
        LocalTransactionId ltx = new LocalTransactionId(conn, 3);
        BrokerId brokerId = new BrokerId("ID:golden-broker-1");

        // The client's real first frame.
        OpenWireFormat client = (OpenWireFormat) new OpenWireFormatFactory().createWireFormat();
        emit("WireFormatInfo", client.getPreferedWireFormatInfo());

        BrokerInfo bi = new BrokerInfo();
        bi.setBrokerId(brokerId);
        bi.setBrokerURL("tcp://127.0.0.1:61616");
        bi.setBrokerName("localhost");
        bi.setFaultTolerantConfiguration(true);
        bi.setMasterBroker(true);
        bi.setConnectionId(77);
        BrokerInfo peer = new BrokerInfo();
        peer.setBrokerId(new BrokerId("ID:peer"));
        bi.setPeerBrokerInfos(new BrokerInfo[] {peer});
        bi.setNetworkProperties("a=b");
        emit("BrokerInfo", bi);

        ConnectionInfo ci = rr(new ConnectionInfo(conn), 1);
        ci.setClientId("golden-client");
        ci.setUserName("user");
        ci.setPassword("pass");
        ci.setManageable(true);
        ci.setFaultTolerant(true);
        ci.setFailoverReconnect(true);
        ci.setBrokerPath(new BrokerId[] {brokerId});
        emit("ConnectionInfo", ci);

        emit("SessionInfo", new SessionInfo(session));

        ConsumerInfo adv = rr(new ConsumerInfo(new ConsumerId(new SessionId(conn, -1), 1)), 2);
        adv.setDestination(AdvisorySupport.TEMP_DESTINATION_COMPOSITE_ADVISORY_TOPIC);
        adv.setPrefetchSize(1000);
        adv.setNoLocal(true);
        adv.setDispatchAsync(true);
        emit("ConsumerInfo.advisory", adv);

        ConsumerInfo qc = rr(new ConsumerInfo(consumer), 3);
        qc.setDestination(queue);
        qc.setPrefetchSize(1000);
        emit("ConsumerInfo.queue", qc);

        ConsumerInfo dc = rr(new ConsumerInfo(new ConsumerId(session, 2)), 4);
        dc.setDestination(topic);
        dc.setPrefetchSize(100);
        dc.setSubscriptionName("durable-1");
        dc.setClientId("golden-client");
        dc.setSelector("color = 'red'");
        dc.setPriority((byte) 3);
        dc.setExclusive(true);
        emit("ConsumerInfo.durable", dc);

        ProducerInfo pi = rr(new ProducerInfo(producer), 5);
        pi.setDestination(queue);
        pi.setWindowSize(0);
        emit("ProducerInfo", pi);

        emit("TransactionInfo.begin", new TransactionInfo(conn, ltx, TransactionInfo.BEGIN));
        emit("TransactionInfo.commit", rr(new TransactionInfo(conn, ltx, TransactionInfo.COMMIT_ONE_PHASE), 6));
        XATransactionId xid = new XATransactionId();
        xid.setFormatId(42);
        xid.setGlobalTransactionId(new byte[] {1, 2, 3});
        xid.setBranchQualifier(new byte[] {9});
        emit("TransactionInfo.xa-prepare", rr(new TransactionInfo(conn, xid, TransactionInfo.PREPARE), 7));
        emit("TransactionInfo.recover", rr(new TransactionInfo(conn, null, TransactionInfo.RECOVER), 8));

        emit("DestinationInfo", rr(new DestinationInfo(conn, DestinationInfo.ADD_OPERATION_TYPE, temp), 9));

        RemoveSubscriptionInfo rs = rr(new RemoveSubscriptionInfo(), 10);
        rs.setConnectionId(conn);
        rs.setClientId("golden-client");
        rs.setSubscriptionName("durable-1");
        emit("RemoveSubscriptionInfo", rs);

        emit("KeepAliveInfo", rr(new KeepAliveInfo(), 11));
        emit("ShutdownInfo", new ShutdownInfo());
        emit("RemoveInfo.connection", rr(new RemoveInfo(conn), 12));
        emit("RemoveInfo.session", new RemoveInfo(session));
        RemoveInfo rc = new RemoveInfo(consumer);
        rc.setLastDeliveredSequenceId(5);
        emit("RemoveInfo.consumer", rc);
        emit("RemoveInfo.producer", new RemoveInfo(producer));
        emit("ControlCommand", new ControlCommand() {{ setCommand("shutdown"); }});
        emit("FlushCommand", new FlushCommand());
        ConnectionError ce = new ConnectionError();
        ce.setException(new java.io.IOException("gone"));
        ce.setConnectionId(conn);
        emit("ConnectionError", ce);

        ConsumerControl cc = new ConsumerControl();
        cc.setConsumerId(consumer);
        cc.setDestination(queue);
        cc.setPrefetch(1000);
        emit("ConsumerControl", cc);

        ConnectionControl ctl = new ConnectionControl();
        ctl.setFaultTolerant(true);
        ctl.setConnectedBrokers("");
        ctl.setToken(new byte[] {7, 7});
        emit("ConnectionControl", ctl);

        ProducerAck pa = new ProducerAck(producer, 1024);
        emit("ProducerAck", pa);

        MessagePull pull = new MessagePull();
        pull.setConsumerId(consumer);
        pull.setDestination(queue);
        pull.setTimeout(-1);
        pull.setCorrelationId("corr-pull");
        pull.setMessageId(new MessageId(producer, 4));
        emit("MessagePull", pull);

        ActiveMQTextMessage text = new ActiveMQTextMessage();
        text.setProducerId(producer);
        text.setMessageId(new MessageId(producer, 7));
        text.setDestination(queue);
        text.setPersistent(true);
        text.setPriority((byte) 7);
        text.setTimestamp(1700000000123L);
        text.setExpiration(1700000060123L);
        text.setJMSCorrelationID("corr-1");
        text.setJMSReplyTo(temp);
        text.setGroupID("group-1");
        text.setGroupSequence(3);
        text.setType("golden-type");
        text.setBooleanProperty("bool", true);
        text.setByteProperty("byte", (byte) -3);
        text.setShortProperty("short", (short) 300);
        text.setIntProperty("int", 42);
        text.setLongProperty("long", 1L << 40);
        text.setFloatProperty("float", 1.5f);
        text.setDoubleProperty("double", 0.25);
        text.setStringProperty("string", "h\u00e9llo");
        List<Object> list = new ArrayList<>();
        list.add(1);
        list.add("two");
        text.setObjectProperty("list", list);
        text.setText("h\u00e9llo w\u00f6rld \ud83d\ude00 \u0000 end");
        text.setTransactionId(ltx);
        emit("TextMessage", rr(text, 13));

        MessageDispatch md = new MessageDispatch();
        md.setConsumerId(consumer);
        md.setDestination(queue);
        ActiveMQTextMessage plain = new ActiveMQTextMessage();
        plain.setMessageId(new MessageId(producer, 8));
        plain.setProducerId(producer);
        plain.setDestination(queue);
        plain.setText("dispatched");
        md.setMessage(plain);
        md.setRedeliveryCounter(2);
        emit("MessageDispatch", md);

        MessageAck ack = new MessageAck();
        ack.setAckType(MessageAck.STANDARD_ACK_TYPE);
        ack.setConsumerId(consumer);
        ack.setDestination(queue);
        ack.setFirstMessageId(new MessageId(producer, 5));
        ack.setLastMessageId(new MessageId(producer, 7));
        ack.setMessageCount(3);
        ack.setTransactionId(ltx);
        emit("MessageAck.standard", ack);
        MessageAck poison = new MessageAck();
        poison.setAckType(MessageAck.POISON_ACK_TYPE);
        poison.setConsumerId(consumer);
        poison.setDestination(queue);
        poison.setLastMessageId(new MessageId(producer, 7));
        poison.setMessageCount(1);
        poison.setPoisonCause(new Throwable("Delivery[7] exceeds redelivery policy limit"));
        emit("MessageAck.poison", poison);

        ActiveMQMessage bare = new ActiveMQMessage();
        bare.setMessageId(new MessageId(producer, 9));
        bare.setDestination(topic);
        bare.setStringProperty("only", "props");
        emit("Message", bare);

        ActiveMQBytesMessage bytes = new ActiveMQBytesMessage();
        bytes.setMessageId(new MessageId(producer, 10));
        bytes.setDestination(queue);
        bytes.writeBytes(new byte[] {0, 1, 2, (byte) 0xff});
        bytes.onSend();
        emit("BytesMessage", bytes);

        ActiveMQMapMessage map = new ActiveMQMapMessage();
        map.setMessageId(new MessageId(producer, 11));
        map.setDestination(queue);
        map.setString("k", "v");
        map.setInt("n", 5);
        emit("MapMessage", map);

        ActiveMQObjectMessage obj = new ActiveMQObjectMessage();
        obj.setMessageId(new MessageId(producer, 12));
        obj.setDestination(queue);
        obj.setObject("serialized");
        emit("ObjectMessage", obj);

        ActiveMQStreamMessage stream = new ActiveMQStreamMessage();
        stream.setMessageId(new MessageId(producer, 13));
        stream.setDestination(queue);
        stream.writeString("s");
        stream.writeInt(1);
        stream.onSend();
        emit("StreamMessage", stream);

        ActiveMQBlobMessage blob = new ActiveMQBlobMessage();
        blob.setMessageId(new MessageId(producer, 14));
        blob.setDestination(queue);
        blob.setRemoteBlobUrl("http://example.invalid/blob");
        blob.setMimeType("text/plain");
        emit("BlobMessage", blob);

        // A compressed TextMessage, as a connection with useCompression=true sends it.
        ActiveMQTextMessage zipped = new ActiveMQTextMessage();
        zipped.setMessageId(new MessageId(producer, 15));
        zipped.setDestination(queue);
        ByteArrayOutputStream zb = new ByteArrayOutputStream();
        DataOutputStream zo = new DataOutputStream(new DeflaterOutputStream(zb));
        MarshallingSupport.writeUTF8(zo, "compressed h\u00e9llo");
        zo.close();
        zipped.setContent(new ByteSequence(zb.toByteArray()));
        zipped.setCompressed(true);
        emit("TextMessage.compressed", zipped);

        Response resp = new Response();
        resp.setCorrelationId(5);
        emit("Response", resp);
        ExceptionResponse er = new ExceptionResponse(new javax.jms.InvalidDestinationException("no such destination"));
        er.setCorrelationId(6);
        emit("ExceptionResponse", er);
        DataResponse dr = new DataResponse();
        dr.setCorrelationId(7);
        dr.setData(consumer);
        emit("DataResponse", dr);
        DataArrayResponse dar = new DataArrayResponse(new DataStructure[] {xid});
        dar.setCorrelationId(8);
        emit("DataArrayResponse", dar);
        IntegerResponse ir = new IntegerResponse(3);
        ir.setCorrelationId(9);
        emit("IntegerResponse", ir);

        System.out.print(out);
    }

    /** Reads "name hex" lines and prints what the jar makes of each frame. */
    static void parse() throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) continue;
            String[] p = line.split(" ", 2);
            byte[] b = new byte[p[1].length() / 2];
            for (int i = 0; i < b.length; i++) {
                b[i] = (byte) Integer.parseInt(p[1].substring(2 * i, 2 * i + 2), 16);
            }
            String desc;
            try {
                Object o = loose().unmarshal(new ByteSequence(b));
                desc = describe(o);
            } catch (Exception e) {
                desc = "FAILED " + e;
            }
            System.out.println(p[0] + " " + desc.replace('\n', ' '));
        }
    }

    static String describe(Object o) throws Exception {
        StringBuilder s = new StringBuilder(o.getClass().getSimpleName()).append(' ');
        if (o instanceof WireFormatInfo) {
            WireFormatInfo info = (WireFormatInfo) o;
            // What the client's own negotiation makes of it.
            OpenWireFormat client = (OpenWireFormat) new OpenWireFormatFactory().createWireFormat();
            client.renegotiateWireFormat(info);
            s.append("version=").append(client.getVersion())
                .append(" tight=").append(client.isTightEncodingEnabled())
                .append(" cache=").append(client.isCacheEnabled())
                .append(" stackTrace=").append(client.isStackTraceEnabled())
                .append(" maxFrameSize=").append(client.getMaxFrameSize())
                .append(" maxInactivity=").append(info.getMaxInactivityDuration())
                .append(" initialDelay=").append(info.getMaxInactivityDurationInitalDelay());
            return s.toString();
        }
        if (o instanceof MessageDispatch) {
            MessageDispatch md = (MessageDispatch) o;
            s.append("consumer=").append(md.getConsumerId()).append(" redeliveryCounter=")
                .append(md.getRedeliveryCounter()).append(" | ");
            if (md.getMessage() == null) return s.append("message=null").toString();
            o = md.getMessage();
            s.append(o.getClass().getSimpleName()).append(' ');
        }
        if (o instanceof ActiveMQMessage) {
            ActiveMQMessage m = (ActiveMQMessage) o;
            s.append("id=").append(m.getJMSMessageID())
                .append(" dest=").append(m.getDestination())
                .append(" persistent=").append(m.isPersistent())
                .append(" priority=").append(m.getJMSPriority())
                .append(" timestamp=").append(m.getJMSTimestamp())
                .append(" correlation=").append(m.getJMSCorrelationID())
                .append(" replyTo=").append(m.getJMSReplyTo())
                .append(" type=").append(m.getJMSType())
                .append(" redelivered=").append(m.getJMSRedelivered())
                .append(" props=").append(typed(m.getProperties()));
            if (m instanceof ActiveMQTextMessage) {
                s.append(" text=[").append(((ActiveMQTextMessage) m).getText()).append(']');
            }
            if (m instanceof ActiveMQBytesMessage) {
                ActiveMQBytesMessage bm = (ActiveMQBytesMessage) m;
                byte[] data = new byte[(int) bm.getBodyLength()];
                bm.readBytes(data);
                s.append(" bytes=").append(Arrays.toString(data));
            }
            if (m.getDataStructure() != null) {
                s.append(" data=").append(m.getDataStructure());
            }
            return s.toString();
        }
        return s.append(o).toString();
    }

    static String typed(Map<String, Object> props) {
        Map<String, String> t = new TreeMap<>();
        for (Map.Entry<String, Object> e : props.entrySet()) {
            Object v = e.getValue();
            t.put(e.getKey(), (v == null ? "null" : v.getClass().getSimpleName()) + ":" + v);
        }
        return t.toString();
    }
}
