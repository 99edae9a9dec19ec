//! The key pairs this crate writes have exactly the current SDK profile (FORMAT.md §2.3-2.4),
//! checked with an ASN.1 dump made by an independent little DER walker (not the crate's parser).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dracoon_crypto::{Password, UserKeyPairContainer, UserKeyPairVersion};

/// One DER element: (tag, content, rest).
fn tlv(der: &[u8]) -> (u8, &[u8], &[u8]) {
    let (len, header) = match der[1] {
        n if n < 0x80 => (n as usize, 2),
        n => {
            let k = (n & 0x7F) as usize;
            let len = der[2..2 + k]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | b as usize);
            (len, 2 + k)
        }
    };
    (der[0], &der[header..header + len], &der[header + len..])
}

/// Dumps DER as indented lines: constructed types recurse; OIDs in dotted form; INTEGERs as a
/// number when small, else their bit length; strings as their length.
fn dump(der: &[u8], depth: usize, out: &mut Vec<String>) {
    let mut rest = der;
    while !rest.is_empty() {
        let (tag, content, next) = tlv(rest);
        let pad = "  ".repeat(depth);
        match tag {
            0x30 => {
                out.push(format!("{pad}SEQUENCE"));
                dump(content, depth + 1, out);
            }
            0x02 if content.len() <= 4 => {
                let v = content.iter().fold(0u64, |a, &b| (a << 8) | b as u64);
                out.push(format!("{pad}INTEGER {v}"));
            }
            0x02 => {
                let trimmed: Vec<u8> = content.iter().copied().skip_while(|&b| b == 0).collect();
                let bits = trimmed.len() * 8 - trimmed[0].leading_zeros() as usize;
                out.push(format!("{pad}INTEGER ({bits} bits)"));
            }
            0x03 => out.push(format!("{pad}BIT STRING ({} bytes)", content.len())),
            0x04 => out.push(format!("{pad}OCTET STRING ({} bytes)", content.len())),
            0x05 => out.push(format!("{pad}NULL")),
            0x06 => {
                let mut arcs = vec![content[0] as u64 / 40, content[0] as u64 % 40];
                let mut acc = 0u64;
                for &b in &content[1..] {
                    acc = (acc << 7) | (b & 0x7F) as u64;
                    if b & 0x80 == 0 {
                        arcs.push(acc);
                        acc = 0;
                    }
                }
                let dotted: Vec<String> = arcs.iter().map(u64::to_string).collect();
                out.push(format!("{pad}OID {}", dotted.join(".")));
            }
            other => out.push(format!("{pad}[{other:#04x}] ({} bytes)", content.len())),
        }
        rest = next;
    }
}

fn pem_body(pem: &str, label: &str) -> Vec<u8> {
    let begin = format!("-----BEGIN {label}-----\n");
    let end = format!("-----END {label}-----\n");
    assert!(pem.starts_with(&begin), "armour: {pem:.40}");
    assert!(pem.ends_with(&end), "END line with final newline");
    assert!(!pem.contains('\r'), "LF line endings");
    let body = &pem[begin.len()..pem.len() - end.len()];
    let lines: Vec<&str> = body.lines().collect();
    for line in &lines[..lines.len() - 1] {
        assert_eq!(line.len(), 64, "64-character lines");
    }
    assert!(lines.last().unwrap().len() <= 64);
    STANDARD.decode(body.replace('\n', "")).unwrap()
}

/// `encrypted_len`: the possible lengths of the AES-CBC ciphertext of the PrivateKeyInfo (its
/// DER length varies by a few bytes with the key's numbers; padded to 16).
fn check_profile(
    container: &UserKeyPairContainer,
    bits: u32,
    encrypted_len: std::ops::RangeInclusive<usize>,
) {
    let mut lines = Vec::new();
    dump(
        &pem_body(
            &container.private_key_container.private_key,
            "ENCRYPTED PRIVATE KEY",
        ),
        0,
        &mut lines,
    );
    let expected = [
        "SEQUENCE",
        "  SEQUENCE",
        "    OID 1.2.840.113549.1.5.13",
        "    SEQUENCE",
        "      SEQUENCE",
        "        OID 1.2.840.113549.1.5.12",
        "        SEQUENCE",
        "          OCTET STRING (20 bytes)",
        "          INTEGER 1300000",
        "      SEQUENCE",
        "        OID 2.16.840.1.101.3.4.1.42",
        "        OCTET STRING (16 bytes)",
    ];
    assert_eq!(lines[..12], expected, "private key profile");
    assert_eq!(lines.len(), 13);
    let data_len: usize = lines[12]
        .strip_prefix("  OCTET STRING (")
        .and_then(|s| s.strip_suffix(" bytes)"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("encryptedData expected, got {}", lines[12]));
    assert!(
        encrypted_len.contains(&data_len) && data_len % 16 == 0,
        "encryptedData of {data_len} bytes"
    );

    let spki = pem_body(&container.public_key_container.public_key, "PUBLIC KEY");
    let mut lines = Vec::new();
    dump(&spki, 0, &mut lines);
    assert_eq!(
        lines[..4],
        [
            "SEQUENCE",
            "  SEQUENCE",
            "    OID 1.2.840.113549.1.1.1",
            "    NULL"
        ]
    );
    assert!(lines[4].starts_with("  BIT STRING"));
    // The BIT STRING holds RSAPublicKey after its unused-bits octet.
    let (_, spki_content, _) = tlv(&spki);
    let (_, _, after_alg) = tlv(spki_content);
    let (tag, bit_string, _) = tlv(after_alg);
    assert_eq!(
        (tag, bit_string[0]),
        (0x03, 0),
        "BIT STRING without unused bits"
    );
    let mut inner_lines = Vec::new();
    dump(&bit_string[1..], 0, &mut inner_lines);
    assert_eq!(
        inner_lines,
        [
            "SEQUENCE",
            &format!("  INTEGER ({bits} bits)"),
            "  INTEGER 65537"
        ]
    );
}

#[test]
fn recorded_key_pairs_have_the_current_profile() {
    for (dir, bits, len) in [
        ("kp_rsa2048", 2048, 1232..=1232),
        ("kp_rsa4096", 4096, 2384..=2384),
    ] {
        let base = format!("{}/vectors/keys/{dir}", env!("CARGO_MANIFEST_DIR"));
        let json = format!(
            r#"{{"privateKeyContainer": {}, "publicKeyContainer": {}}}"#,
            std::fs::read_to_string(format!("{base}/private_key.json")).unwrap(),
            std::fs::read_to_string(format!("{base}/public_key.json")).unwrap()
        );
        check_profile(&UserKeyPairContainer::from_json(&json).unwrap(), bits, len);
    }
}

#[test]
fn freshly_generated_key_pair_has_the_current_profile() {
    let kp = dracoon_crypto::UserKeyPair::generate(UserKeyPairVersion::Rsa2048).unwrap();
    let container = kp.to_container(&Password::new("Qwer1234!")).unwrap();
    check_profile(&container, 2048, 1200..=1232);
    assert_eq!(container.unlock(&Password::new("Qwer1234!")).unwrap(), kp);
}
