//! The small part of CSV (RFC 4180) that subscriber lists need: comma-separated fields,
//! optionally in double quotes (with `""` for a quote inside); CRLF or LF line ends.

/// The records of `text` with the line each starts on; a record that cannot be read is an
/// error naming its line.
pub fn parse(text: &str) -> Vec<(usize, Result<Vec<String>, String>)> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut error = None;
        loop {
            match chars.next() {
                None => {
                    if quoted {
                        error = Some("a quoted field is not closed".to_string());
                    }
                    break;
                }
                Some('"') if quoted => {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        field.push('"');
                    } else {
                        quoted = false;
                    }
                }
                Some('"') if field.trim().is_empty() => {
                    field.clear();
                    quoted = true;
                }
                Some('\n') if quoted => {
                    line += 1;
                    field.push('\n');
                }
                Some(c) if quoted => field.push(c),
                Some(',') => fields.push(std::mem::take(&mut field)),
                Some('\r') if chars.peek() == Some(&'\n') => {}
                Some('\n') => {
                    line += 1;
                    break;
                }
                Some(c) => field.push(c),
            }
        }
        fields.push(field);
        let blank = fields.len() == 1 && fields[0].trim().is_empty();
        if blank && error.is_none() {
            continue;
        }
        records.push((start, error.map_or(Ok(fields), Err)));
    }
    records
}

/// One CSV line (with its `\n`), quoting fields that need it.
pub fn line(fields: &[&str]) -> String {
    let mut out = String::new();
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) || field.starts_with(' ') || field.ends_with(' ') {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_and_line_numbers() {
        let text = "email,categories\r\na@example.org,\"economy; climate\"\n\n\"b, \"\"c\"\"\",x\n\"open\n";
        let records = parse(text);
        assert_eq!(records[0], (1, Ok(vec!["email".to_string(), "categories".to_string()])));
        assert_eq!(records[1], (2, Ok(vec!["a@example.org".to_string(), "economy; climate".to_string()])));
        assert_eq!(records[2], (4, Ok(vec!["b, \"c\"".to_string(), "x".to_string()])));
        assert_eq!(records[3].0, 5);
        assert!(records[3].1.is_err());
        assert_eq!(line(&["a", "b,c", "say \"hi\""]), "a,\"b,c\",\"say \"\"hi\"\"\"\n");
        let round: Vec<_> = parse(&line(&["x\ny", "z"])).into_iter().map(|(_, r)| r.unwrap()).collect();
        assert_eq!(round, vec![vec!["x\ny".to_string(), "z".to_string()]]);
    }
}
