"""Reads a JUnit XML report with junitparser (Debian's python3-junitparser),
as a CI consumer would, and prints what it saw as one JSON document.

Surefire's rerun elements (flakyFailure, flakyError, rerunFailure,
rerunError) are not junitparser classes; they are declared here the way
junitparser's own results are, and read from each case.

Exit 1, naming the suite, when a <testsuite>'s declared counts differ from
the counts junitparser makes from its cases.
Usage: junit_consumer.py REPORT.xml
"""
import json
import sys

from junitparser import Attr, Element, Error, Failure, JUnitXml, Skipped


class _Rerun(Element):
    message = Attr()
    type = Attr()

    def stack_trace(self):
        elem = self._elem.find("stackTrace")
        return None if elem is None else elem.text

    def system_out(self):
        elem = self._elem.find("system-out")
        return None if elem is None else elem.text


class FlakyFailure(_Rerun):
    _tag = "flakyFailure"


class FlakyError(_Rerun):
    _tag = "flakyError"


class RerunFailure(_Rerun):
    _tag = "rerunFailure"


class RerunError(_Rerun):
    _tag = "rerunError"


RERUN_KINDS = (FlakyFailure, FlakyError, RerunFailure, RerunError)


def read_case(case):
    results = []
    for result in case.result:
        kind = {Failure: "failure", Error: "error", Skipped: "skipped"}.get(type(result), type(result).__name__)
        results.append({"kind": kind, "message": result.message, "type": result.type, "text": result.text})
    reruns = []
    for cls in RERUN_KINDS:
        for rerun in case.iterchildren(cls):
            reruns.append({
                "kind": cls._tag,
                "message": rerun.message,
                "type": rerun.type,
                "stackTrace": rerun.stack_trace(),
                "systemOut": rerun.system_out(),
            })
    return {
        "classname": case.classname,
        "name": case.name,
        "time": case.time,
        "passed": case.is_passed,
        "skipped": case.is_skipped,
        "results": results,
        "reruns": reruns,
    }


def recount(cases):
    return {
        "tests": len(cases),
        "failures": sum(1 for c in cases if any(r["kind"] == "failure" for r in c["results"])),
        "errors": sum(1 for c in cases if any(r["kind"] == "error" for r in c["results"])),
        "skipped": sum(1 for c in cases if c["skipped"]),
    }


def main(path):
    xml = JUnitXml.fromfile(path)
    out = {"tests": xml.tests, "failures": xml.failures, "errors": xml.errors, "skipped": xml.skipped, "time": xml.time, "suites": []}
    problems = []
    for suite in xml:
        cases = [read_case(case) for case in suite]
        declared = {"tests": suite.tests, "failures": suite.failures, "errors": suite.errors, "skipped": suite.skipped}
        counted = recount(cases)
        if declared != counted:
            problems.append("suite %s declares %s but its cases count %s" % (suite.name, declared, counted))
        out["suites"].append({"name": suite.name, "time": suite.time, "declared": declared, "counted": counted, "cases": cases})
    json.dump(out, sys.stdout)
    if problems:
        sys.stderr.write("\n".join(problems) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
