use super::*;

#[test]
fn requests_and_replies_round_trip() {
    let x = [1.0, -2.5, f64::NAN, 4.0];
    let (back, rows, proba) = decode_request(&encode_request(&x, 2, true)[8..]).unwrap();
    assert_eq!((rows, proba, back.len()), (2, true, 4));
    assert!(back[2].is_nan() && back[1] == -2.5);
    let p = Predictions { values: vec![0.0, 2.0], proba: Some(vec![0.25, 0.75, 0.5, 0.5]) };
    assert_eq!(decode_reply(&encode_reply(Ok(p.clone()))), Ok(p));
    let plain = Predictions { values: vec![3.5], proba: None };
    assert_eq!(decode_reply(&encode_reply(Ok(plain.clone()))), Ok(plain));
    assert_eq!(decode_reply(&encode_reply(Err("boom".into()))), Err("boom".into()));
    let reply = encode_reply(Ok(Predictions { values: vec![1.0], proba: None }));
    assert!(decode_reply(&reply[..reply.len() - 3]).is_err(), "a truncated reply is refused");
    // Lengths that would overflow are refused, not a panic.
    let mut huge = vec![OK];
    huge.extend(u64::MAX.to_le_bytes());
    assert!(decode_reply(&huge).is_err());
    let mut many = vec![OK];
    many.extend(1u64.to_le_bytes());
    many.extend(1.0f64.to_le_bytes());
    many.extend(u64::MAX.to_le_bytes());
    assert!(decode_reply(&many).is_err());
}

#[test]
fn frames_round_trip_and_a_closed_pipe_is_none() {
    let mut buf = Vec::new();
    write_frame(&mut buf, &[b"ab", b"c"]).unwrap();
    let mut r = &buf[..];
    assert_eq!(read_frame(&mut r).unwrap(), Some(b"abc".to_vec()));
    assert_eq!(read_frame(&mut r).unwrap(), None);
    assert!(read_frame(&mut &buf[..10]).is_err(), "a cut frame is an error");
    assert_eq!(frame(&[b"ab", b"c"]), buf, "frame() is what write_frame() writes");
}

#[test]
fn another_protocol_is_refused_in_one_line() {
    let mut input = Vec::new();
    write_frame(&mut input, &[br#"{"servingProtocol": 99}"#]).unwrap();
    write_frame(&mut input, &[b""]).unwrap();
    let mut out = Vec::new();
    serve_worker_main(&input[..], &mut out).unwrap();
    let reply = read_frame(&mut &out[..]).unwrap().unwrap();
    let said = decode_reply(&reply).unwrap_err();
    assert!(said.contains("protocol mismatch: the server speaks 99"), "{said}");
}

#[test]
fn tail_keeps_the_end() {
    let text: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let kept = host::tail(&text[..], 1000);
    assert!(kept.len() >= 1000 && kept.len() <= 2000 + 4096);
    assert!(text.ends_with(&kept));
}
