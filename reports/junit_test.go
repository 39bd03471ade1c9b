package reports_test

import (
	"bytes"
	"encoding/xml"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/reports/internal/sample"
)

// What a CI server reads from JUnit XML, declared independently of the
// package's own types.
type jSuites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Suites   []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			ClassName string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Out string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func junitOf(r *reports.Report) jSuites {
	GinkgoHelper()
	var buf bytes.Buffer
	Expect(reports.WriteJUnit(&buf, r)).To(Succeed())
	var s jSuites
	Expect(xml.Unmarshal(buf.Bytes(), &s)).To(Succeed())
	return s
}

var _ = Describe("JUnit XML", func() {
	It("has a suite per scenario, a case per result and counts tests and failures", func() {
		r := sample.Report(3)
		s := junitOf(r)
		Expect(s.Tests).To(Equal(26))
		Expect(s.Failures).To(Equal(3))
		Expect(s.Suites).To(HaveLen(8))
		tests, failures, failed := 0, 0, 0
		for _, su := range s.Suites {
			Expect(su.Cases).To(HaveLen(su.Tests))
			tests += su.Tests
			failures += su.Failures
			for _, c := range su.Cases {
				if c.Failure != nil {
					failed++
				}
			}
		}
		Expect(tests).To(Equal(26))
		Expect(failures).To(Equal(3))
		Expect(failed).To(Equal(3))
		Expect(s.Suites[0].Name).To(Equal("freeze-director-timestamp"))
	})

	It("puts the detail into the failure and the seed and rig into the properties", func() {
		r := sample.Report(1)
		r.Seed = 424242
		r.Results[0].Detail = "the ECU installed <evil> & \"quoted\" firmware"
		su := junitOf(r).Suites[0]
		props := map[string]string{}
		for _, p := range su.Properties {
			props[p.Name] = p.Value
		}
		Expect(props).To(HaveKeyWithValue("seed", "424242"))
		Expect(props).To(HaveKeyWithValue("rig", "virtual"))
		Expect(props).To(HaveKeyWithValue("attack", "freeze"))
		Expect(props).To(HaveKeyWithValue("standard", "check_timestamp,full_verification"))
		Expect(props).To(HaveKeyWithValue("statements", "check_timestamp#4"))
		c := su.Cases[0]
		Expect(c.Name).To(Equal("ECM-0001 / conformant"))
		Expect(c.ClassName).To(Equal("uptane-hil.freeze.freeze-director-timestamp"))
		Expect(c.Failure).NotTo(BeNil())
		Expect(c.Failure.Message).To(Equal("expected defended, observed compromised"))
		Expect(c.Failure.Text).To(Equal("the ECU installed <evil> & \"quoted\" firmware"))
		Expect(su.Cases[2].Failure).To(BeNil())
		Expect(su.Cases[2].Out).To(ContainSubstring("[[ATTACHMENT|runs/freeze-director-timestamp/without-check_timestamp.expiry/powertrain.pcap]]"))
	})

	It("reports a defence by the wrong check as a failure of its own kind", func() {
		r := sample.Report(0)
		r.Results[0].Pass = false
		r.Results[0].Detected = check.TimestampSignatures.String()
		r.Summarize()
		c := junitOf(r).Suites[0].Cases[0]
		Expect(c.Failure).NotTo(BeNil())
		Expect(c.Failure.Message).To(ContainSubstring(`not by the expected check (detected: "check_timestamp.signatures")`))
	})

	It("stays well-formed with control characters in free text", func() {
		r := sample.Report(1)
		r.Results[0].Detail = "bad\x00bytes\x1b[31m"
		var buf bytes.Buffer
		Expect(reports.WriteJUnit(&buf, r)).To(Succeed())
		doc := buf.String()
		d := xml.NewDecoder(strings.NewReader(doc))
		for {
			_, err := d.Token()
			if err != nil {
				Expect(err.Error()).To(Equal("EOF"))
				break
			}
		}
		Expect(strings.Count(doc, "<testcase ")).To(Equal(26))
		Expect(doc).To(ContainSubstring("bad\uFFFDbytes"))
	})
})
