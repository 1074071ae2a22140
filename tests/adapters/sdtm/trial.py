"""A small messy trial folder for count tests: every row below is there to break a rule, and
the expected counts in the tests are worked out by hand from these rows (comments say how).

Subjects (DM):
  T-01  F   BRTHDTC 1960-05-10                       arm A
  T-02  m   AGE 18 MONTHS at RFSTDTC 2019-03-05      -> born 2017-08-06 .. 2017-09-05
  T-03  M   BRTHDTC 1979-06 (partial)                -> born 1979-06-01 .. 1979-06-30
  T-04  F   BRTHDTC 1990-01-01, screen failure       arm SCRNFAIL
  T-05  F   AGE 30 without AGEU                      -> age unknown
  T-06  u   BRTHDTC 1950                             -> born 1950-01-01 .. 1950-12-31
  (T-99 has rows in AE and LB but is not in DM: never counted)
"""

from __future__ import annotations

from pathlib import Path

DM = """STUDYID,DOMAIN,USUBJID,SUBJID,SITEID,SEX,AGE,AGEU,RFSTDTC,BRTHDTC,COUNTRY,ARMCD,ARM
T,DM,T-01,01,1,F,58,YEARS,2019-01-01,1960-05-10,DEU,A,Drug A
T,DM,T-02,02,1,m,18,MONTHS,2019-03-05,,DEU,A,Drug A
T,DM,T-03,03,1,M,39,YEARS,2019-03-05,1979-06,DEU,A,Drug A
T,DM,T-04,04,1,F,,,,1990-01-01,DEU,SCRNFAIL,Screen Failure
T,DM,T-05,05,1,F,30,,2019-03-05,,DEU,A,Drug A
T,DM,T-06,06,1,u,,,2019-03-05,1950,DEU,A,Drug A
"""
MH = """STUDYID,DOMAIN,USUBJID,MHSEQ,MHTERM,MHDECOD,MHPRESP,MHOCCUR,MHSTDTC
T,MH,T-01,1,high blood pressure,Hypertension,,,2019-03
T,MH,T-03,1,HYPERTENSION,HYPERTENSION,,,2019
T,MH,T-05,1,HYPERTENSION,HYPERTENSION,,,03/05/2019
T,MH,T-06,1,HYPERTENSION,HYPERTENSION,Y,N,
T,MH,T-06,2,ASTHMA,ASTHMA,Y,,
"""
# T-01 in March 2019 (partial, lower case); T-03 some day of 2019; T-05 an ambiguous date (no
# date); T-06 pre-specified and answered "no", and pre-specified asthma never answered.
AE = """STUDYID,DOMAIN,USUBJID,AESEQ,AETERM,AEDECOD,AELLTCD,AEPTCD,AEHLTCD,AEHLGTCD,AESOCCD,AESTDTC
T,AE,T-02,1,BLOOD PRESSURE UP,HYPERTENSION,10005750,10020772,10057166,10047065,10047065,2019-03-15
T,AE,T-99,1,HYPERTENSION,HYPERTENSION,10020772,10020772,10057166,10047065,10047065,2019-03-15
"""
# MedDRA: LLT 10005750 under PT 10020772 (Hypertension), HLT 10057166, HLGT/SOC 10047065
CM = """STUDYID,DOMAIN,USUBJID,CMSEQ,CMTRT,CMDECOD,CMSTDTC
T,CM,T-01,1,GLUCOPHAGE,METFORMIN,2019-03-20
T,CM,T-02,1,METFORMIN,METFORMIN HYDROCHLORIDE,2019-04-01
T,CM,T-03,1,ASPIRIN,ACETYLSALICYLIC ACID,2018-12
T,CM,T-02,2,ASPIRIN,ACETYLSALICYLIC ACID,2019-04
"""
LB = """STUDYID,DOMAIN,USUBJID,LBSEQ,LBTESTCD,LBTEST,LBORRES,LBORRESU,LBSTRESN,LBSTRESU,LBSTAT,LBDTC
T,LB,T-01,1,HGB,Hemoglobin,12.5,g/dL,12.5,g/dL,,2019-03-05
T,LB,T-01,2,HGB,Hemoglobin,,,,,NOT DONE,2019-04-05
T,LB,T-02,1,HGB,Hemoglobin,118,g/L,118,g/L,,2019/03/06
T,LB,T-03,1,HGB,Hemoglobin,13.1,,13.1,,,2019-03
T,LB,T-03,2,HGB,Hemoglobin,12.9,g/dL,twelve,g/dL,,03/05/2019
T,LB,T-05,1,HGB,Hemoglobin,11.0,furlongs,11.0,furlongs,,2019-03-05
T,LB,T-06,1,HGB,Hemoglobin,,,,,NOT DONE,2019-03-05
T,LB,T-99,1,HGB,Hemoglobin,9.0,g/dL,9.0,g/dL,,2019-03-05
"""
# T-01 12.5 g/dL (+ a test not done); T-02 118 g/L = 11.8 g/dL on a non-ISO date; T-03 13.1
# without unit in March 2019, and 12.9 g/dL from ORRES (text in LBSTRESN, ambiguous date);
# T-05 in an unknown unit; T-06 only a test not done.

FILES = {"dm.csv": DM, "mh.csv": MH, "ae.csv": AE, "cm.csv": CM, "acme_lb.csv": LB}


def write_trial(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
