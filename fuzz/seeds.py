#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/ (docs/FUZZING.md).

Run it again after changing a seed here; files it wrote before are
replaced, other files in the corpus directories (inputs the fuzzer found
and someone chose to keep) are left alone.  Requests are signed for the
fuzz fixture's community (fixture.h): SGWTES, key 7bc074f97c3131d2e290a4as.
"""
import hashlib
import json
import os
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
COMM, KEY, DT = "SGWTES", "7bc074f97c3131d2e290a4as", "2016-07-25 11:05:49"


def sign(rq_uuid, dt=DT, comm=COMM, key=KEY):
    s = "##%s##%s##%s##%s##SENDINVOICE##" % (rq_uuid, dt, comm, key)
    return hashlib.sha256(s.upper().encode()).hexdigest()


def inv(**kw):
    base = {"member_code": "M001", "member_name": "Budi", "amount": 20000,
            "total_amount": 60000, "number_of_installment": 3,
            "installment_amount": "20000", "balance_payment_amount": 0,
            "description": "VA Payment Test", "billing_date": 5}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


SPEC_INVOICES = {"INVZSKSK022": inv(), "INVZSKSK023": inv(member_code="M002", amount="150000.5",
                                                           total_amount="150000.50")}


def form(fields):
    return "&".join("%s=%s" % (urllib.parse.quote_plus(k), urllib.parse.quote_plus(v))
                    for k, v in fields).encode()


def request_fields(uuid="UUID001", invoices=None, total=None, **over):
    invoices = SPEC_INVOICES if invoices is None else invoices
    text = invoices if isinstance(invoices, str) else json.dumps(invoices)
    if total is None:
        total = str(len(invoices)) if isinstance(invoices, dict) else "1"
    f = {"rq_uuid": uuid, "rq_datetime": DT, "signature": sign(uuid), "comm_code": COMM,
         "ccy": "IDR", "invoices": text, "total_invoices": total}
    f.update(over)
    return [(k, v) for k, v in f.items() if v is not None]


def json_body(uuid="UUID001", invoices=None, total=2, as_string=False, **over):
    invoices = SPEC_INVOICES if invoices is None else invoices
    f = {"rq_uuid": uuid, "rq_datetime": DT, "signature": sign(uuid), "comm_code": COMM,
         "ccy": "IDR", "invoices": json.dumps(invoices) if as_string else invoices,
         "total_invoices": total}
    f.update(over)
    return json.dumps({k: v for k, v in f.items() if v is not None}).encode()


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def invoices_seeds():
    one = {"INV1": inv()}
    s = {
        "spec_two": json.dumps(SPEC_INVOICES),
        "one": json.dumps(one),
        "minimal": json.dumps({"D": {"member_code": "A", "amount": 1, "total_amount": 1,
                                     "number_of_installment": 1, "installment_amount": 1,
                                     "billing_date": 1}}),
        "strings": json.dumps({"INV1": {k: str(v) for k, v in inv().items()}}),
        "aliases": json.dumps({"INV1": inv(number_of_installment=None, installment_amount=None,
                                           balance_payment_amount=None, billing_date=None,
                                           jumlah_cicilan=2, amount_cicilan="10000.00",
                                           pelunasan_amount="5", tanggal_penagihan="05")}),
        "alias_conflict": '{"INV1":{"member_code":"M1","amount":1,"total_amount":2,'
                          '"number_of_installment":2,"jumlah_cicilan":3,'
                          '"installment_amount":1,"billing_date":1}}',
        "alias_same": '{"INV1":{"member_code":"M1","amount":1,"total_amount":2,'
                      '"billing_date":"05","tanggal_penagihan":5,'
                      '"number_of_installment":2,"installment_amount":1}}',
        "member_twice": '{"INV1":{"member_code":"M1","member_code":"M1","amount":1,'
                        '"total_amount":2,"number_of_installment":2,"installment_amount":1,'
                        '"billing_date":1}}',
        "dup_doc": '{"INV1":%s,"INV2":%s,"INV1":%s}' % ((json.dumps(inv()),) * 3),
        "dup_doc_escaped": '{"INV1":%s,"\\u0049NV1":%s}' % ((json.dumps(inv()),) * 2),
        "empty_object": "{}",
        "blank": "   ",
        "array": "[1,2]",
        "string_of_json": json.dumps(json.dumps(one)),
        "number": "12",
        "null": "null",
        "not_object_invoice": '{"INV1":[1,2,3],"INV2":"x","INV3":null,"INV4":7}',
        "amount_over_total": json.dumps({"I": inv(amount=70000)}),
        "three_decimals": '{"I":{"member_code":"M","amount":1.230,"total_amount":2,'
                          '"number_of_installment":1,"installment_amount":1,"billing_date":1}}',
        "exponent": '{"I":{"member_code":"M","amount":1e3,"total_amount":2E+4,'
                    '"number_of_installment":1,"installment_amount":1,"billing_date":1}}',
        "negative": json.dumps({"I": inv(amount=-1, balance_payment_amount=-5)}),
        "max_money": json.dumps({"I": inv(amount="999999999999999.99",
                                          total_amount=999999999999999.99 and
                                          "999999999999999.99",
                                          installment_amount="999999999999999.99")}),
        "huge_numbers": '{"I":{"member_code":123456789012345678901234567890,'
                        '"amount":1000000000000000000000000000000000000,"total_amount":1e400,'
                        '"number_of_installment":99999999999999999999,'
                        '"installment_amount":0.000000000000000000001,'
                        '"billing_date":-0}}',
        "zeros": json.dumps({"I": inv(amount="0", total_amount="0.00",
                                      number_of_installment="000", billing_date="00")}),
        "leading_zeros": json.dumps({"I": inv(amount="0000020000.1", number_of_installment="007",
                                              billing_date="031")}),
        "blanks": json.dumps({"I": inv(member_code="  ", member_name=" ", description="\t\r\n",
                                       amount=" ")}),
        "nulls": json.dumps({"I": {k: None for k in inv()}}),
        "bools": json.dumps({"I": {k: True for k in inv()}}),
        "nested_values": json.dumps({"I": {k: {"v": [v]} for k, v in inv().items()}}),
        "unicode": json.dumps({"DOC-é": inv(member_name="Siti Nurhaliza \u00e9\u4e2d\U0001f600",
                                            description="x" * 99 + "\u00e9")},
                              ensure_ascii=False),
        "unicode_escaped": json.dumps({"I": inv(member_name="\u00e9" * 100,
                                                description="\U0001f600" * 101)}),
        "long_texts": json.dumps({"D" * 32: inv(member_code="M" * 32, member_name="n" * 101,
                                                description="d" * 100)}),
        "long_doc_no": json.dumps({"D" * 33: inv(), " LEAD": inv(), "TRAIL ": inv(),
                                   "": inv(), "TAB\t": inv()}),
        "nul_escapes": '{"A\\u0000B":{"member_code":"M\\u0000","amount":1,"total_amount":1,'
                       '"number_of_installment":1,"installment_amount":1,"billing_date":1,'
                       '"member_name":"\\u0000"},"\\u0000":{}}',
        "escapes": '{"I\\n\\"\\\\\\/":{"member_code":"\\u004D1","member_name":"\\ud83d\\ude00",'
                   '"amount":"\\u0031","total_amount":"2","number_of_installment":"\\u0031",'
                   '"installment_amount":1,"billing_date":"0\\u0035","desc\\u0072iption":"x"}}',
        "unknown_members": json.dumps({"I": dict(inv(), extra=[1, {"a": None}], amount_x=5,
                                                 AMOUNT=6)}),
        "deep_member": '{"I":{"member_code":"M","amount":1,"total_amount":1,'
                       '"number_of_installment":1,"installment_amount":1,"billing_date":1,'
                       '"x":' + "[" * 2000 + "]" * 2000 + "}}",
        "deep_top": "{" + '"a":{' * 300 + "}" * 301,
        "too_deep": "[" * 3000 + "]" * 3000,
        "whitespace": ' \n\t{ "I" : ' + json.dumps(inv(), indent=4) + " } \r\n",
        "trailing_garbage": json.dumps(one) + "x",
        "truncated": json.dumps(SPEC_INVOICES)[:-7],
        "many": json.dumps({"INV%03d" % i: {"member_code": "M", "amount": 1,
                                            "total_amount": 1, "number_of_installment": 1,
                                            "installment_amount": 1, "billing_date": 1}
                            for i in range(60)}),
    }
    s["members_500"] = "{" + ",".join('"%d":0' % i for i in range(500)) + "}"
    s["members_501"] = "{" + ",".join('"%d":0' % i for i in range(501)) + "}"
    s["invalid_utf8"] = (b'{"I\xff":{"member_code":"M","member_name":"\xc3\x28\xed\xa0\x80",'
                         b'"amount":1,"total_amount":1,"number_of_installment":1,'
                         b'"installment_amount":1,"billing_date":1}}')
    s["raw_nul"] = b'{"I":{"member_code":"M\x00"}}'
    s["member_name_latin1"] = b'{"I":{"member_name":"Jos\xe9"}}'
    for name, data in s.items():
        write("fuzz_invoices", name, data)
    return s


def request_seeds(inv_seeds):
    r = {
        "form_spec": form(request_fields()),
        "form_one": form(request_fields(invoices={"INV1": inv()})),
        "form_upper_sig": form(request_fields(signature=sign("UUID001").upper())),
        "form_aliases": form(request_fields(invoices=inv_seeds["aliases"])),
        "form_dup_doc": form(request_fields(invoices=inv_seeds["dup_doc"], total="2")),
        "form_total_mismatch": form(request_fields(total="3")),
        "form_total_501": form(request_fields(total="501")),
        "form_total_zero": form(request_fields(total="0")),
        "form_total_4digits": form(request_fields(total="0002")),
        "form_usd": form(request_fields(ccy="USD")),
        "form_bad_sig": form(request_fields(signature="0" * 64)),
        "form_unknown_comm": form(request_fields(comm_code="NOPE")),
        "form_bad_date": form(request_fields(rq_datetime="2016-02-30 11:05:49")),
        "form_missing_all": b"",
        "form_missing_ccy": form(request_fields(ccy=None)),
        "form_blank_uuid": form(request_fields(rq_uuid="   ")),
        "form_dup_field": form(request_fields()) + b"&rq_uuid=UUID001",
        "form_bad_escape": b"rq_uuid=UUID%zz1&ccy=IDR",
        "form_trailing_percent": form(request_fields()) + b"%",
        "form_nul": form(request_fields(rq_uuid="UU\x00ID")),
        "form_invalid_utf8_name": form(request_fields(invoices=inv_seeds["unicode"])).replace(
            b"%C3%A9", b"%C3%28"),
        "form_invoices_blank": form(request_fields(invoices="  ")),
        "form_invoices_array": form(request_fields(invoices="[]")),
        "form_invoices_empty": form(request_fields(invoices="{}", total="1")),
        "form_deep": form(request_fields(invoices=inv_seeds["too_deep"])),
        "form_plus_spaces": b"rq_uuid=UUID+001&rq_datetime=2016-07-25+11%3A05%3A49",
        "form_no_equals": b"rq_uuid&ccy&invoices&&&=&==",
        "form_escaped_names": form(request_fields()).replace(b"rq_uuid=", b"rq%5Fuuid="),
        "json_spec": json_body(),
        "json_string_invoices": json_body(as_string=True, total="2"),
        "json_total_string": json_body(total="2"),
        "json_total_float": json_body(total=2.0),
        "json_total_neg": json_body(total=-2),
        "json_total_huge": json_body(total=10 ** 30),
        "json_uuid_number": json_body(rq_uuid=12345),
        "json_nulls": json.dumps({"rq_uuid": None, "rq_datetime": None, "signature": None,
                                  "comm_code": None, "ccy": None, "invoices": None,
                                  "total_invoices": None}).encode(),
        "json_bools": json_body(ccy=True, total=False),
        "json_dup_key": json_body()[:-1] + b',"rq_uuid":"UUID001"}',
        "json_escaped_key": json_body().replace(b'"ccy"', b'"\\u0063cy"'),
        "json_nul_key": json_body().replace(b'"ccy"', b'"ccy\\u0000"'),
        "json_array": b"[1,2,3]",
        "json_string": b'"rq_uuid=UUID001"',
        "json_number": b" 42",
        "json_empty_object": b"{}",
        "json_deep": b"{\"a\":" + b"[" * 5000 + b"]" * 5000 + b"}",
        "json_invalid_utf8": json_body().replace(b"UUID001", b"UUID\xff01"),
        "json_truncated": json_body()[:-3],
        "json_comm_code_lower": json_body(comm_code="sgwtes"),
    }
    for name, data in r.items():
        write("fuzz_request", name, data)


def form_seeds():
    f = {
        "spec": form(request_fields()),
        "plain": "rq_uuid=UUID001&ccy=IDR&invoices=x",
        "plus_escapes": "rq_uuid=a+b++c&ccy=%41%62%2B%26%3d%25&invoices=%7b%22a%22%3A1%7D",
        "escaped_name": "rq%5Fuuid=%00%C3%A9%ff&ccy=a%2bb",
        "duplicates": "ccy=IDR&ccy=USD&ccy=&rq_uuid=1&ccy",
        "no_value": "rq_uuid&ccy=&invoices=",
        "empty": "",
        "ampersands": "&&&rq_uuid=1&&",
        "equals": "rq_uuid==1=2&ccy===",
        "bad_escape": "rq_uuid=%zz",
        "bad_escape_unwanted": "other=%4",
        "bad_escape_name": "rq%_uuid=1",
        "trailing_percent": "rq_uuid=1%",
        "percent_before_amp": "rq_uuid=%4&ccy=IDR",
        "percent_before_eq": "x%=1",
        "unwanted_then_wanted": "rq_uuid_x=1&rq_uuidx=2&rq_uuid=3",
        "raw_bytes": b"rq_uuid=\x00\xff\x80&ccy=\n\r\t",
        "escaped_amp_in_name": "rq_uuid%26ccy=1",
        "escaped_eq_in_name": "ccy%3Dx=1",
        "all_fields": "&".join("%s=%s" % (n, n.upper()) for n in
                               ["rq_uuid", "rq_datetime", "signature", "comm_code", "ccy",
                                "invoices", "total_invoices"]),
        "long_value": "invoices=" + "%41" * 500 + "&ccy=" + "+" * 100,
        "upper_lower_hex": "ccy=%aB%Cd%eF",
    }
    for name, data in f.items():
        write("fuzz_form", name, data)


def money_seeds():
    m = ["20000", "150000.5", "150000.50", "1.230", "0", "00", "0.00", "0.01",
         "999999999999999.99", "999999999999999.999", "1000000000000000",
         "0000000000000000001.00", "000000000000000999999999999999.99", "-1", "+1", "1e3",
         "1E3", "1.", ".5", " 1", "1 ", "", "12345678901234567890", "1.2.3", "1..2",
         "99999999999999999999999999999999999999", "9223372036854775807",
         "92233720368547758.07", "0x10", "1,5", "\u0661\u0662", "\uff11", "1\x00", "\x00",
         "NaN", "Infinity", "1.0a", "00000.00"]
    for i, s in enumerate(m):
        write("fuzz_money", "seed%02d" % i, s.encode())


# 2^1024 - 2^970: the smallest magnitude a double cannot hold (json.c).
DOUBLE_OVERFLOW = str(2 ** 1024 - 2 ** 970)


def json_diff_seeds():
    """Bytes for fuzz_json_diff: the corners where a hand-written parser and
    jansson could part ways."""
    d = {
        "spec_invoices": json.dumps(SPEC_INVOICES).encode(),
        "blanks": b" \t\r\n{ \"a\" : [ 1 , 2 , { \"b\" : null } ] , \"c\" : \"d\" } \n",
        "scalars": b"[true,false,null,0,-0,1.5,-1.5e3,1E+2,1e-2,\"\"]",
        "top_number": b" -0.5e-3 ",
        "top_true": b"true",
        "top_string": b"\"x\"",
        "empty": b"",
        "bad_numbers": b"[01]",
        "bad_fraction": b"[1.]",
        "bad_exponent": b"[1e+]",
        "big_integer": b"[99999999999999999999999]",
        "double_max": b"[1.7976931348623157e308]",
        "double_overflow": ("[%s]" % DOUBLE_OVERFLOW).encode(),
        "double_below": ("[%s]" % (DOUBLE_OVERFLOW[:-1] + "1")).encode(),
        "double_exp": b"[1e309,0e99999,1e-400]",
        "escapes": b"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"]",
        "bad_escape": b"[\"\\x41\"]",
        "short_u": b"[\"\\u12\"]",
        "lone_high": b"[\"\\ud800\"]",
        "lone_low": b"[\"\\udc00\"]",
        "high_high": b"[\"\\ud800\\ud800\"]",
        "nul_escape_key": b"{\"a\\u0000b\":\"c\\u0000\",\"\\\\u0000\":1}",
        "control_char": b"[\"a\\x01b\"]".replace(b"\\x01", b"\x01"),
        "raw_nul_string": b"[\"a\x00b\"]",
        "scalar_nul": b"1\x00",
        "array_scalar_nul": b"[1\x00]",
        "utf8_ok": "[\"Jos\u00e9 \u20ac \U0001F600\"]".encode(),
        "utf8_overlong": b"[\"\xc0\x80\xe0\x80\x80\"]",
        "utf8_surrogate": b"[\"\xed\xa0\x80\"]",
        "utf8_too_big": b"[\"\xf4\x90\x80\x80\"]",
        "utf8_truncated": b"[\"\xe2\x82",
        "utf8_outside": b"[\xc3\xa9]",
        "dup_keys": b"{\"a\":1,\"a\":2}",
        "trailing": b"{\"a\":1} x",
        "trailing_comma": b"{\"a\":1,}",
        "literal_prefix": b"[nul, tru]",
        "depth_2048": b"[" * 2048 + b"]" * 2048,
        "depth_2048_scalar": b"[" * 2048 + b"1" + b"]" * 2048,
        "depth_2049": b"[" * 2049 + b"]" * 2049,
        "depth_objects": b"{\"a\":" * 2047 + b"1" + b"}" * 2047,
    }
    for name, data in d.items():
        write("fuzz_json_diff", name, data)


if __name__ == "__main__":
    inv_seeds = invoices_seeds()
    request_seeds({k: (v.decode() if isinstance(v, bytes) else v)
                   for k, v in inv_seeds.items()
                   if k in ("aliases", "dup_doc", "unicode", "too_deep")})
    form_seeds()
    money_seeds()
    json_diff_seeds()
