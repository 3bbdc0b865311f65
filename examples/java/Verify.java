// Verifying what a ukeygate gateway produces, in Java, with BouncyCastle
// (Debian: libbcprov-java, libbcpkix-java; Maven: org.bouncycastle
// bcprov-jdk18on and bcpkix-jdk18on). BouncyCastle reads SM2 certificates,
// verifies SM2 signatures ("SM3withSM2": SM3 with Z of the default user id
// 1234567812345678, as the gateway signs) and SM2 CMS with the GM/T 0010
// OIDs, which OpenSSL cannot.
//
//   javac -cp /usr/share/java/bcprov.jar:/usr/share/java/bcpkix.jar:/usr/share/java/bcutil.jar -d out Verify.java
//   java  -cp out:/usr/share/java/bcprov.jar:/usr/share/java/bcpkix.jar:/usr/share/java/bcutil.jar Verify artefacts.properties
//
// The properties file holds key=base64 values (the Go test writes them
// from a live gateway; a real backend takes them from the session result
// JSON and the webhook request). It prints "ok NAME" or "FAIL NAME: why"
// for each check ("skip NAME: no KEY…" for one whose keys the file does
// not have) and exits 1 if any failed.

import java.io.ByteArrayInputStream;
import java.io.FileInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Security;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Collection;
import java.util.HexFormat;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.DefaultCMSSignatureAlgorithmNameGenerator;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.SignerInformationVerifier;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.DefaultSignatureAlgorithmIdentifierFinder;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;

public class Verify {
    static {
        Security.addProvider(new BouncyCastleProvider());
    }

    // ---- certificates ----

    /** The first certificate of a PEM (certificate_pem: the signer's, then its chain), checked for validity now. */
    static X509Certificate certOf(String pem) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509", "BC");
        X509Certificate c = (X509Certificate) cf.generateCertificate(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
        c.checkValidity();
        return c;
    }

    /** cert was signed by the CA certificate (GET /v1/issuers/{id}/ca.pem); SM2 certificates with SM3 and Z. */
    static void checkIssuedBy(X509Certificate cert, String caPEM) throws Exception {
        X509Certificate ca = certOf(caPEM);
        if (!cert.getIssuerX500Principal().equals(ca.getSubjectX500Principal())) {
            throw new Exception("certificate not issued by this CA");
        }
        cert.verify(ca.getPublicKey(), "BC");
    }

    /** SM2 (an EC key on the SM2 curve: the gateway issues no other EC keys) or RSA. */
    static String signatureAlgorithm(PublicKey key) {
        return key instanceof ECPublicKey ? "SM3withSM2" : "SHA256withRSA";
    }

    static boolean verifySignature(X509Certificate cert, byte[] data, byte[] sig) throws Exception {
        Signature s = Signature.getInstance(signatureAlgorithm(cert.getPublicKey()), "BC");
        s.initVerify(cert.getPublicKey());
        s.update(data);
        return s.verify(sig);
    }

    // ---- 1. login result ----

    /** A string member of the flat JSON challenge; use your JSON library in a real backend. */
    static String member(String json, String name) throws Exception {
        Matcher m = Pattern.compile("\"" + name + "\"\\s*:\\s*\"([^\"]*)\"").matcher(json);
        if (!m.find()) throw new Exception("challenge has no " + name);
        return m.group(1);
    }

    /** The challenge names this session, app and origin and is recent; the certificate chains; the signature verifies. */
    static String verifyLogin(byte[] challenge, byte[] signature, String certPEM, String session, String app, String origin, String caPEM) throws Exception {
        String ch = new String(challenge, StandardCharsets.UTF_8);
        if (!member(ch, "session").equals(session) || !member(ch, "app").equals(app) || !member(ch, "origin").equals(origin)) {
            throw new Exception("challenge is for another session, app or origin");
        }
        if (Duration.between(Instant.parse(member(ch, "time")), Instant.now()).abs().compareTo(Duration.ofMinutes(5)) > 0) {
            throw new Exception("challenge is not recent");
        }
        X509Certificate cert = certOf(certPEM);
        checkIssuedBy(cert, caPEM);
        if (!verifySignature(cert, challenge, signature)) throw new Exception("login signature does not verify");
        return cert.getSubjectX500Principal().getName();
    }

    // ---- 2. raw signature ----

    static String verifyRaw(byte[] data, byte[] signature, String certPEM, String caPEM) throws Exception {
        X509Certificate cert = certOf(certPEM);
        checkIssuedBy(cert, caPEM);
        if (!verifySignature(cert, data, signature)) throw new Exception("signature does not verify");
        return cert.getSubjectX500Principal().getName();
    }

    // ---- 3 and 4. CMS SignedData, detached (SM2 with the GM/T 0010 OIDs, or RSA) ----

    /**
     * BouncyCastle names a CMS signature "digest WITH encryption algorithm"; GM/T 0010 writes the
     * encryption algorithm as SM2-1 (1.2.156.10197.1.301.1), which BouncyCastle 1.72 does not map:
     * teach it that SM3 with SM2-1 is "SM3WITHSM2" (SM3 with Z, default user id).
     */
    static class GMSignatureNames extends DefaultCMSSignatureAlgorithmNameGenerator {
        GMSignatureNames() {
            setSigningEncryptionAlgorithmMapping(new ASN1ObjectIdentifier("1.2.156.10197.1.301.1"), "SM2");
            setSigningEncryptionAlgorithmMapping(new ASN1ObjectIdentifier("1.2.156.10197.1.301"), "SM2");
        }
    }

    /** Every signer of a detached SignedData over data verifies with its carried certificate, which chains to the CA. */
    static String verifyCMSDetached(byte[] der, byte[] data, String caPEM) throws Exception {
        CMSSignedData sd = new CMSSignedData(new CMSProcessableByteArray(data), der);
        Collection<SignerInformation> signers = sd.getSignerInfos().getSigners();
        if (signers.isEmpty()) throw new Exception("no signer");
        StringBuilder who = new StringBuilder();
        CertificateFactory cf = CertificateFactory.getInstance("X.509", "BC");
        for (SignerInformation si : signers) {
            @SuppressWarnings("unchecked")
            Collection<X509CertificateHolder> matches = sd.getCertificates().getMatches(si.getSID());
            if (matches.isEmpty()) throw new Exception("signer certificate not carried");
            X509CertificateHolder holder = matches.iterator().next();
            X509Certificate cert = (X509Certificate) cf.generateCertificate(new ByteArrayInputStream(holder.getEncoded()));
            cert.checkValidity();
            checkIssuedBy(cert, caPEM);
            SignerInformationVerifier verifier = new SignerInformationVerifier(new GMSignatureNames(),
                    new DefaultSignatureAlgorithmIdentifierFinder(),
                    new JcaContentVerifierProviderBuilder().setProvider("BC").build(holder),
                    new JcaDigestCalculatorProviderBuilder().setProvider("BC").build());
            if (!si.verify(verifier)) {
                throw new Exception("signature does not verify");
            }
            who.append(cert.getSubjectX500Principal().getName());
        }
        return who.toString();
    }

    // ---- 5. webhook ----

    /** X-Ukeygate-Signature: v1=hex(HMAC-SHA256(secret, TIMESTAMP + "." + body)), X-Ukeygate-Timestamp within 5 minutes. */
    static String verifyWebhook(String secret, String timestamp, String signatureHeader, byte[] body) throws Exception {
        long ts;
        try {
            ts = Long.parseLong(timestamp);
        } catch (NumberFormatException e) {
            throw new Exception("timestamp missing");
        }
        if (Math.abs(Instant.now().getEpochSecond() - ts) > 300) throw new Exception("timestamp too old");
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        mac.update((timestamp + ".").getBytes(StandardCharsets.US_ASCII));
        byte[] want = ("v1=" + HexFormat.of().formatHex(mac.doFinal(body))).getBytes(StandardCharsets.US_ASCII);
        if (!MessageDigest.isEqual(want, signatureHeader.getBytes(StandardCharsets.US_ASCII))) {
            throw new Exception("signature does not match");
        }
        return new String(body, StandardCharsets.UTF_8);
    }

    // ---- the runner the Go test uses ----

    interface Check {
        String run() throws Exception;
    }

    static int failed = 0;
    static int ran = 0;

    static Properties props;
    static String file;

    /** Runs check c, or skips it (naming what is missing) when the file lacks one of its keys: run only the checks you have artefacts for. */
    static void check(String name, String[] keys, Check c) {
        java.util.List<String> missing = new java.util.ArrayList<>();
        for (String k : keys) {
            if (props.getProperty(k) == null) missing.add(k);
        }
        if (!missing.isEmpty()) {
            System.out.println("skip " + name + ": no " + String.join(", ", missing) + " in " + file);
            return;
        }
        ran++;
        try {
            String who = c.run();
            System.out.println("ok " + name);
            if (who != null) System.out.println("   " + who);
        } catch (Exception e) {
            failed++;
            System.out.println("FAIL " + name + ": " + e.getMessage());
        }
    }

    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        try (InputStream in = new FileInputStream(args[0])) {
            p.load(in);
        }
        props = p;
        file = args[0];
        java.util.function.Function<String, byte[]> b = k -> Base64.getDecoder().decode(p.getProperty(k));
        java.util.function.Function<String, String> s = k -> new String(b.apply(k), StandardCharsets.UTF_8);
        check("login-sm2", new String[] {"login.challenge", "login.signature", "login.certificate_pem", "login.session", "login.app", "login.origin", "ca.sm2.pem"}, () -> verifyLogin(b.apply("login.challenge"), b.apply("login.signature"), s.apply("login.certificate_pem"),
                s.apply("login.session"), s.apply("login.app"), s.apply("login.origin"), s.apply("ca.sm2.pem")));
        check("raw-sm2", new String[] {"raw.data", "raw.signature", "raw.certificate_pem", "ca.sm2.pem"}, () -> verifyRaw(b.apply("raw.data"), b.apply("raw.signature"), s.apply("raw.certificate_pem"), s.apply("ca.sm2.pem")));
        check("cms-sm2", new String[] {"cms_sm2.cms", "cms_sm2.data", "ca.sm2.pem"}, () -> verifyCMSDetached(b.apply("cms_sm2.cms"), b.apply("cms_sm2.data"), s.apply("ca.sm2.pem")));
        check("cms-rsa", new String[] {"cms_rsa.cms", "cms_rsa.data", "ca.rsa.pem"}, () -> verifyCMSDetached(b.apply("cms_rsa.cms"), b.apply("cms_rsa.data"), s.apply("ca.rsa.pem")));
        check("webhook", new String[] {"webhook.secret", "webhook.timestamp", "webhook.signature", "webhook.body"}, () -> {
            String ev = verifyWebhook(s.apply("webhook.secret"), s.apply("webhook.timestamp"), s.apply("webhook.signature"), b.apply("webhook.body"));
            if (!ev.contains("\"state\":\"completed\"")) throw new Exception("not the completed event");
            return "delivery " + member(ev, "id");
        });
        if (ran == 0) System.out.println("FAIL: nothing to check in " + file);
        System.exit(failed > 0 || ran == 0 ? 1 : 0);
    }
}
