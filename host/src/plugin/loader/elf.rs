//! The ELF structure check that runs before dlopen: a truncated or foreign
//! file would crash the dynamic loader before any check of ours ran.

/// Checks the ELF structure of a would-be shared library without running it.
/// A truncated file (half-copied) would otherwise SIGBUS inside dlopen.
pub fn check_elf(bytes: &[u8]) -> Result<(), String> {
    const EHDR: usize = 64;
    if bytes.is_empty() {
        return Err("not a shared object: the file is empty (a failed build or copy?); rebuild it and copy it again".to_owned());
    }
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        let texty =
            bytes.iter().take(512).all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace());
        let what = if texty { "a text file" } else { "no ELF header" };
        return Err(format!(
            "not a shared object: {what}; build the plugin as a cdylib and copy its .so"
        ));
    }
    if bytes.len() < EHDR {
        return Err(format!(
            "not a shared object: truncated ELF header ({} bytes); copy the file again",
            bytes.len()
        ));
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        return Err("not a shared object for this host: not a 64-bit little-endian ELF; build it for this machine".to_owned());
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
    let e_type = u16_at(16);
    if e_type != 3 {
        return Err(format!(
            "not a shared object: an ELF {} file; build the plugin with crate-type = [\"cdylib\"]",
            match e_type {
                1 => "relocatable (.o/.rlib)",
                2 => "executable",
                4 => "core",
                _ => "unknown-type",
            }
        ));
    }
    let machine = u16_at(18);
    let host_machine = if cfg!(target_arch = "x86_64") {
        62
    } else if cfg!(target_arch = "aarch64") {
        183
    } else {
        machine
    };
    if machine != host_machine {
        return Err(format!(
            "built for another CPU (ELF machine {machine}); build it for {}",
            std::env::consts::ARCH
        ));
    }
    let len = bytes.len() as u64;
    let truncated = |end: u64| {
        format!(
            "truncated: its structure ends at byte {end} but the file has {len} (half-copied?); copy it again"
        )
    };
    let (phoff, phentsize, phnum) = (u64_at(32), u64::from(u16_at(54)), u64::from(u16_at(56)));
    let ph_end = phoff.saturating_add(phentsize.saturating_mul(phnum));
    if ph_end > len || phentsize < 56 && phnum > 0 {
        return Err(truncated(ph_end));
    }
    for i in 0..phnum {
        let at = (phoff + i * phentsize) as usize;
        let p_type = u32_at(at);
        let (offset, filesz) = (u64_at(at + 8), u64_at(at + 32));
        let end = offset.saturating_add(filesz);
        if p_type == 1 && end > len {
            return Err(truncated(end));
        }
    }
    let (shoff, shentsize, shnum) = (u64_at(40), u64::from(u16_at(58)), u64::from(u16_at(60)));
    let sh_end = shoff.saturating_add(shentsize.saturating_mul(shnum));
    if sh_end > len {
        return Err(truncated(sh_end));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_check_reasons() {
        let check = |b: &[u8]| check_elf(b).unwrap_err();
        assert!(check(b"").contains("the file is empty"));
        assert!(check(b"hello, I am text\n").contains("a text file"));
        assert!(check(&[0u8, 1, 2, 3, 200]).contains("no ELF header"));
        assert!(check(b"\x7fELF\x02\x01").contains("truncated ELF header"));
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        // A PIE test binary is ET_DYN: structurally fine. Half of it is not.
        assert_eq!(check_elf(&me), Ok(()));
        assert!(check(&me[..me.len() / 2]).contains("truncated"));
    }
}
